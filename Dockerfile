# The operator's image. Built outside this repository's CI (no container runtime here).
#   docker build -t mesh-compliance-operator:0.1.0 .

# Build: the full toolchain compiles the TypeScript.
FROM node:20-bookworm AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
# Only the operator's sources: the config's test/bench/hack globs then match nothing.
COPY operator ./operator
RUN npm run build

# Runtime: production dependencies and the compiled operator only, as a non-root user.
FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force
COPY --from=build /src/dist/operator ./dist/operator
# The CRDs and manifests ship with the package, for `kubectl apply -k` from the image if wanted.
COPY crds ./crds
# Numeric, so that the kubelet can verify runAsNonRoot; matches the Deployment's runAsUser.
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["node", "dist/operator/cli/main.js", "operator"]
