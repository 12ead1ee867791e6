// Certificates for the test control plane, made with the openssl CLI: a throw-away CA, the API
// server's serving certificate, an admin client certificate in system:masters (which RBAC lets do
// anything) and the service-account signing key pair. Nothing here is meant to outlive one run.
import { execFileSync } from "node:child_process";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface ControlPlanePki {
  dir: string;
  caCert: string;
  caKey: string;
  servingCert: string;
  servingKey: string;
  adminCert: string;
  adminKey: string;
  serviceAccountPublicKey: string;
  serviceAccountPrivateKey: string;
}

// Our own config file, so no distribution default (extensions, prompts) leaks into the result.
const OPENSSL_CONFIG = `
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[serving]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
authorityKeyIdentifier = keyid
[client]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = clientAuth
authorityKeyIdentifier = keyid
`;

function openssl(args: string[]): void {
  try {
    execFileSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"] });
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString() ?? "";
    throw new Error(`openssl ${args[0] ?? ""} failed: ${stderr || String(error)}`);
  }
}

function newKey(file: string): void {
  openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", file]);
}

interface LeafRequest {
  dir: string;
  name: string;
  subject: string;
  extensions: "serving" | "client";
  config: string;
}

function signLeaf(req: LeafRequest, caCert: string, caKey: string): { cert: string; key: string } {
  const key = join(req.dir, `${req.name}.key`);
  const csr = join(req.dir, `${req.name}.csr`);
  const cert = join(req.dir, `${req.name}.crt`);
  newKey(key);
  openssl(["req", "-new", "-config", req.config, "-key", key, "-subj", req.subject, "-out", csr]);
  openssl([
    "x509",
    "-req",
    "-in",
    csr,
    "-CA",
    caCert,
    "-CAkey",
    caKey,
    "-set_serial",
    `0x${randomBytes(16).toString("hex")}`,
    "-days",
    "2",
    "-extfile",
    req.config,
    "-extensions",
    req.extensions,
    "-out",
    cert,
  ]);
  return { cert, key };
}

export const ADMIN_USER = "mesh-compliance-test-admin";

export function createPki(dir: string): ControlPlanePki {
  mkdirSync(dir, { recursive: true });
  const config = join(dir, "openssl.cnf");
  writeFileSync(config, OPENSSL_CONFIG);
  const caKey = join(dir, "ca.key");
  const caCert = join(dir, "ca.crt");
  newKey(caKey);
  openssl([
    "req",
    "-x509",
    "-new",
    "-config",
    config,
    "-key",
    caKey,
    "-subj",
    "/CN=mesh-compliance-test-ca",
    "-days",
    "2",
    "-extensions",
    "ca",
    "-out",
    caCert,
  ]);
  const serving = signLeaf(
    { dir, name: "serving", subject: "/CN=kube-apiserver", extensions: "serving", config },
    caCert,
    caKey,
  );
  const admin = signLeaf(
    {
      dir,
      name: "admin",
      subject: `/O=system:masters/CN=${ADMIN_USER}`,
      extensions: "client",
      config,
    },
    caCert,
    caKey,
  );
  // The API server signs service-account tokens with this key and verifies them with its public half.
  const pair = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const serviceAccountPrivateKey = join(dir, "sa.key");
  const serviceAccountPublicKey = join(dir, "sa.pub");
  writeFileSync(serviceAccountPrivateKey, pair.privateKey.export({ type: "pkcs8", format: "pem" }));
  writeFileSync(serviceAccountPublicKey, pair.publicKey.export({ type: "spki", format: "pem" }));
  return {
    dir,
    caCert,
    caKey,
    servingCert: serving.cert,
    servingKey: serving.key,
    adminCert: admin.cert,
    adminKey: admin.key,
    serviceAccountPublicKey,
    serviceAccountPrivateKey,
  };
}
