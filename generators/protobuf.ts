/**
 * Protobuf in the schema registry's wire format, framed here because `@kafkajs/confluent-schema-registry` writes
 * Protobuf without the message-index array (its issue 248): magic byte 0, the 4-byte big-endian schema id, the
 * message indexes, then the message.
 *
 * The indexes say which message of the registered `.proto` file the payload is: the path of indexes from the
 * file's top-level messages down through nested ones. They are written as a zigzag varint count followed by one
 * zigzag varint per index, except that the commonest case, the first top-level message (`[0]`), is written as
 * the single byte 0 (a count of 0). These are Confluent's rules, which every registry-aware client follows.
 */
import protobuf from "protobufjs";

export const MAGIC_BYTE = 0;

/** Zigzag varint (as Kafka's ByteUtils.writeVarint), appended to `out`. */
export function writeVarint(value: number, out: number[]): void {
  let v = ((value << 1) ^ (value >> 31)) >>> 0;
  while (v >= 0x80) {
    out.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  out.push(v);
}

/** Reads a zigzag varint at `pos`; returns the value and the position after it. */
export function readVarint(buf: Uint8Array, pos: number): { value: number; next: number } {
  let v = 0;
  let shift = 0;
  for (let i = pos; i < buf.length && shift <= 28; i++) {
    const b = buf[i] as number;
    v |= (b & 0x7f) << shift;
    if ((b & 0x80) === 0) return { value: (v >>> 1) ^ -(v & 1), next: i + 1 };
    shift += 7;
  }
  throw new Error(`truncated or overlong varint at byte ${pos}`);
}

/** The message-index array as bytes: `[0]` is the single byte 0. */
export function encodeIndexes(indexes: readonly number[]): Buffer {
  if (indexes.length === 1 && indexes[0] === 0) return Buffer.from([0]);
  const out: number[] = [];
  writeVarint(indexes.length, out);
  for (const i of indexes) writeVarint(i, out);
  return Buffer.from(out);
}

/** Frames a serialized message: magic byte, schema id, message indexes, message. */
export function frame(schemaId: number, indexes: readonly number[], message: Uint8Array): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt8(MAGIC_BYTE, 0);
  head.writeInt32BE(schemaId, 1);
  return Buffer.concat([head, encodeIndexes(indexes), message]);
}

/** Splits a framed payload; throws on a wrong magic byte or a frame cut off before its message. */
export function unframe(buf: Uint8Array): { schemaId: number; indexes: number[]; message: Uint8Array } {
  if (buf.length < 6) throw new Error(`a Protobuf frame has at least 6 bytes, this has ${buf.length}`);
  if (buf[0] !== MAGIC_BYTE) throw new Error(`magic byte ${buf[0]}, expected ${MAGIC_BYTE}`);
  const schemaId = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength).readInt32BE(1);
  const count = readVarint(buf, 5);
  if (count.value < 0 || count.value > 64) throw new Error(`message-index count ${count.value} out of range`);
  if (count.value === 0) return { schemaId, indexes: [0], message: buf.subarray(count.next) };
  const indexes: number[] = [];
  let pos = count.next;
  for (let i = 0; i < count.value; i++) {
    const r = readVarint(buf, pos);
    indexes.push(r.value);
    pos = r.next;
  }
  return { schemaId, indexes, message: buf.subarray(pos) };
}

/** A parsed `.proto` file: its message types by index path, as the framing names them. */
export class ProtoFile {
  readonly root: protobuf.Root;
  readonly #top: protobuf.Type[];

  constructor(text: string) {
    const parsed = protobuf.parse(text, { keepCase: false });
    this.root = parsed.root;
    const ns = parsed.package ? this.root.lookup(parsed.package) : this.root;
    if (!(ns instanceof protobuf.Namespace)) throw new Error(`package ${parsed.package} not found`);
    this.#top = ns.nestedArray.filter((x): x is protobuf.Type => x instanceof protobuf.Type);
    if (!this.#top.length) throw new Error("the .proto file declares no message");
  }

  /** The message at an index path (`[0]`: the first top-level message). */
  typeAt(indexes: readonly number[]): protobuf.Type {
    let list = this.#top;
    let t: protobuf.Type | undefined;
    for (const i of indexes) {
      t = list[i];
      if (!t) throw new Error(`no message at index path [${indexes.join(", ")}]`);
      list = t.nestedArray.filter((x): x is protobuf.Type => x instanceof protobuf.Type);
    }
    if (!t) throw new Error("an empty index path names no message");
    return t;
  }

  /** The index path of a message by its (unqualified or full) name. */
  indexesOf(name: string): number[] {
    const walk = (list: protobuf.Type[], path: number[]): number[] | undefined => {
      for (const [i, t] of list.entries()) {
        if (t.name === name || t.fullName === name || t.fullName === `.${name}`) return [...path, i];
        const deeper = walk(
          t.nestedArray.filter((x): x is protobuf.Type => x instanceof protobuf.Type),
          [...path, i],
        );
        if (deeper) return deeper;
      }
      return undefined;
    };
    const found = walk(this.#top, []);
    if (!found) throw new Error(`no message ${name} in the .proto file`);
    return found;
  }
}

/** A payload refused by the Protobuf serializer: the same name as the Avro serializer's refusal, so callers need one test. */
export class ProtobufValidationError extends Error {
  override readonly name = "ConfluentSchemaRegistryValidationError";
  readonly paths: string[][];
  constructor(message: string, paths: string[][]) {
    super(message);
    this.paths = paths;
  }
}

/**
 * Checks a plain object strictly against a message type before encoding: every field the type has must be present
 * with a value of its type (proto3 would quietly default a missing one; a producer that drops a field is broken),
 * enums by symbol, 64-bit integers as safe integers, and no field the type does not have.
 */
export function strictCheck(type: protobuf.Type, value: Record<string, unknown>): { field: string; problem: string }[] {
  const problems: { field: string; problem: string }[] = [];
  for (const f of type.fieldsArray) {
    f.resolve();
    const v = value[f.name];
    if (v === undefined || v === null) {
      problems.push({ field: f.name, problem: "missing" });
      continue;
    }
    if (f.resolvedType instanceof protobuf.Enum) {
      if (typeof v !== "string" || !(v in f.resolvedType.values)) problems.push({ field: f.name, problem: `${JSON.stringify(v)} is not a symbol of ${f.resolvedType.name}` });
    } else if (f.type === "string") {
      if (typeof v !== "string") problems.push({ field: f.name, problem: `expected a string, got ${JSON.stringify(v)}` });
    } else if (["int64", "int32", "sint64", "uint64", "uint32", "fixed64", "sfixed64"].includes(f.type)) {
      if (typeof v !== "number" || !Number.isSafeInteger(v)) problems.push({ field: f.name, problem: `expected an integer (${f.type}), got ${JSON.stringify(v)}` });
    }
  }
  for (const k of Object.keys(value)) if (!type.fields[k]) problems.push({ field: k, problem: "not a field of the message" });
  return problems;
}

/** Serializes a checked object: throws `ProtobufValidationError` naming every bad field. */
export function encodeMessage(type: protobuf.Type, value: Record<string, unknown>): Uint8Array {
  const problems = strictCheck(type, value);
  if (problems.length)
    throw new ProtobufValidationError(`invalid ${type.name}: ${problems.map((p) => `${p.field} ${p.problem}`).join("; ")}`, problems.map((p) => [p.field]));
  return type.encode(type.fromObject(value)).finish();
}

/** Decodes to the plain object the rest of the lab uses (enums as symbols, 64-bit integers as numbers). */
export function decodeMessage<T>(type: protobuf.Type, bytes: Uint8Array): T {
  return type.toObject(type.decode(bytes), { enums: String, longs: Number, defaults: true }) as T;
}
