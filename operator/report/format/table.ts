// The human-readable report: fits an 80-column terminal, and colours only when writing to one.

import type { Severity, ThreatStatus } from "../../engine/types.js";
import type { ScanResult } from "../../scan/scan.js";
import { compareFindings } from "../build.js";
import { uniqueFindings } from "./sarif.js";

export interface TableOptions {
  color: boolean;
  width?: number;
}

const ANSI = { red: 31, green: 32, yellow: 33, blue: 34, magenta: 35, gray: 90, bold: 1 } as const;
type Colour = keyof typeof ANSI;

const STATUS_COLOUR: Record<ThreatStatus, Colour> = {
  Mitigated: "green",
  Attested: "green",
  Waived: "yellow",
  Violated: "red",
  Unknown: "magenta",
  NotApplicable: "gray",
  Disabled: "gray",
};

const SEVERITY_COLOUR: Record<Severity, Colour> = {
  critical: "red",
  high: "red",
  medium: "yellow",
  low: "blue",
  info: "gray",
};

/**
 * Names and messages come from scanned files, which may be hostile: control characters (escape
 * sequences that clear the screen or forge lines) are shown as `\xNN` instead of being sent to
 * the terminal.
 */
export function printable(text: string): string {
  return text.replace(TERMINAL_CONTROL, hexEscape);
}

// eslint-disable-next-line no-control-regex -- matching control characters is the point
const TERMINAL_CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;

export function hexEscape(c: string): string {
  return `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`;
}

/** Wraps text at word boundaries so that no line passes `width`; long words are split. */
export function wrap(raw: string, width: number, indent: number): string[] {
  const text = printable(raw);
  const room = Math.max(10, width - indent);
  const words = text
    .split(/\s+/)
    .filter(Boolean)
    .flatMap((w) => (w.length <= room ? [w] : (w.match(new RegExp(`.{1,${room}}`, "g")) ?? [w])));
  const lines: string[] = [];
  let line = "";
  for (const word of words) {
    const candidate = line ? `${line} ${word}` : word;
    if (candidate.length > room && line) {
      lines.push(line);
      line = word;
    } else {
      line = candidate;
    }
  }
  if (line) lines.push(line);
  const pad = " ".repeat(indent);
  return lines.map((l) => pad + l);
}

function pad(text: string, width: number): string {
  return text.length >= width ? text.slice(0, width) : text + " ".repeat(width - text.length);
}

export function formatTable(result: ScanResult, options: TableOptions): string {
  const width = Math.max(60, Math.min(options.width ?? 80, 120));
  const paint = (colour: Colour, text: string): string =>
    options.color ? `\u001b[${ANSI[colour]}m${text}\u001b[0m` : text;
  const r = result.report;
  const s = r.summary;
  const out: string[] = [];

  out.push(
    ...wrap(
      `Scanned ${result.files} file(s), ${result.objects} object(s) with policy ${r.policy}; mesh root namespace ${r.rootNamespace}.`,
      width,
      0,
    ),
  );
  out.push(
    paint("bold", `Score ${s.score}%  open findings ${s.openFindings}`),
    `Threats (${s.enabled} enabled): mitigated ${s.mitigated}  attested ${s.attested}  violated ${s.violated}  waived ${s.waived}  unknown ${s.unknown}`,
    "",
  );

  // Fixed columns take 38 characters; the title gets what is left of the width.
  const titleWidth = width - 38;
  out.push(
    paint("bold", `${pad("ID", 6)}${pad("RISK", 10)}${pad("STATUS", 14)}${pad("OPEN", 6)}TITLE`),
  );
  for (const t of r.threats) {
    const title = t.title.length > titleWidth ? `${t.title.slice(0, titleWidth - 1)}…` : t.title;
    const open = t.counts.open > 0 ? String(t.counts.open) : "-";
    out.push(
      `${pad(t.id, 6)}${pad(t.risk, 10)}${paint(STATUS_COLOUR[t.status], pad(t.status, 14))}${pad(open, 6)}${title}`,
    );
  }

  const findings = uniqueFindings(result).sort(compareFindings);
  if (findings.length > 0)
    out.push("", paint("bold", `Findings (${findings.length}), worst first:`));
  for (const f of findings) {
    const res = f.resource;
    const where = `${res.kind} ${res.namespace ? `${res.namespace}/` : ""}${res.name}`;
    const sev = paint(SEVERITY_COLOUR[f.severity], pad(f.severity.toUpperCase(), 9));
    const waived = f.waived
      ? paint("yellow", ` [waived until ${f.waived.expires.slice(0, 10)}]`)
      : "";
    out.push("", `${sev}${f.check} (${f.threats.join(", ")})${waived}`);
    out.push(...wrap(where, width, 9), ...wrap(f.message, width, 9));
  }

  appendNotes(out, result, width, paint);
  return `${out.join("\n")}\n`;
}

function appendNotes(
  out: string[],
  result: ScanResult,
  width: number,
  paint: (c: Colour, t: string) => string,
): void {
  const r = result.report;
  const unknown = r.threats.filter((t) => t.status === "Unknown");
  if (unknown.length > 0) out.push("", paint("bold", "Unknown threats:"));
  for (const t of unknown) out.push(...wrap(`${t.id}: ${t.reason ?? ""}`, width, 2));
  const expired = r.waivers.filter((w) => w.state === "Expired");
  if (expired.length > 0) out.push("", paint("yellow", "Expired waivers (no effect):"));
  for (const w of expired) {
    out.push(
      ...wrap(
        `${w.threat}${w.check ? ` ${w.check}` : ""} expired ${w.expires}: ${w.reason}`,
        width,
        2,
      ),
    );
  }
  if (r.assumptions.length > 0) out.push("", paint("bold", "Assumptions:"));
  for (const a of r.assumptions) out.push(...wrap(a, width, 2));
  if (result.inputErrors.length > 0)
    out.push("", paint("red", `Input errors (${result.inputErrors.length}):`));
  for (const e of result.inputErrors)
    out.push(...wrap(`${e.file}:${e.line}: ${e.message}`, width, 2));
}
