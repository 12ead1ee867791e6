// The operator's logger: winston, JSON lines by default and readable text on a terminal. Fields go
// in the metadata object, never pasted into the message, so logs can be filtered by key.

import winston from "winston";
import type { LogFormat, LogLevel } from "../config/settings.js";

export function createLogger(options: {
  level: LogLevel;
  format: LogFormat;
  isTTY?: boolean;
}): winston.Logger {
  const text = options.format === "text" || (options.format === "auto" && options.isTTY === true);
  const format = text
    ? winston.format.combine(
        winston.format.timestamp({ format: "HH:mm:ss.SSS" }),
        winston.format.printf((info) => {
          const { level, message, timestamp, ...fields } = info;
          const rest = Object.entries(fields)
            .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
            .join(" ");
          return `${String(timestamp)} ${level.padEnd(5)} ${String(message)}${rest ? ` ${rest}` : ""}`;
        }),
      )
    : winston.format.combine(winston.format.timestamp(), winston.format.json());
  const logger = winston.createLogger({ level: options.level, format });
  // Every level to standard error, so that standard output stays for results. winston declares
  // its transports as interfaces over TransportStream, which the lint rule cannot match to the
  // class, although the object is made by that class's constructor.
  // eslint-disable-next-line @typescript-eslint/no-unsafe-class-instance-assignment
  logger.add(new winston.transports.Console({ stderrLevels: ["error", "warn", "info", "debug"] }));
  return logger;
}

/** A logger that drops everything (unit tests). */
export function silentLogger(): winston.Logger {
  return winston.createLogger({ silent: true });
}
