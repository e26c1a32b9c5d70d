import { existsSync, readFileSync } from "node:fs";
import { extname } from "node:path";
import { parseDocument } from "yaml";
import { BadInputError } from "./errors.ts";

/** The endings of specs written as data. */
export const DATA_EXTENSIONS = [".json", ".yaml", ".yml"] as const;

/**
 * Whether a command-line or spec reference names a file rather than something built in (a scenario of
 * scenarios/, a spec of topology/specs/): it holds a `/`, or ends like a spec or scenario file.
 */
export const looksLikePath = (ref: string): boolean => ref.includes("/") || /\.(json|ya?ml|m?ts|m?js)$/.test(ref);

/**
 * Reads a spec written as data, JSON or YAML by its ending. YAML is read as YAML 1.2 (core schema: `no` and `on`
 * stay strings, unlike YAML 1.1), duplicate keys are errors, and every syntax error is reported with its line.
 */
export function readDataFile(file: string, what: string): unknown {
  if (!existsSync(file)) throw new BadInputError(`${what} ${file} does not exist`, [], "check the path (a relative path counts from the current directory)");
  const ext = extname(file);
  if (!(DATA_EXTENSIONS as readonly string[]).includes(ext))
    throw new BadInputError(`${what} ${file}: cannot read a "${ext}" file as data`, [], `write it as ${DATA_EXTENSIONS.join(", ")}`);
  const text = readFileSync(file, "utf8");
  return ext === ".json" ? parseJson(text, file, what) : parseYaml(text, file, what);
}

function parseJson(text: string, file: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new BadInputError(`${what} ${file} is not valid JSON`, [(e as Error).message], "fix the JSON syntax (or write the file as YAML, which allows comments)");
  }
}

function parseYaml(text: string, file: string, what: string): unknown {
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length) {
    const problems = doc.errors.map((e) => {
      const at = e.linePos?.[0];
      const message = (e.message.split("\n")[0] ?? "").replace(/ at line \d+, column \d+:?$/, "");
      return `${at ? `line ${at.line}, column ${at.col}: ` : ""}${message}`;
    });
    throw new BadInputError(`${what} ${file} is not valid YAML`, problems, "fix the YAML syntax at the lines named above");
  }
  return doc.toJS();
}
