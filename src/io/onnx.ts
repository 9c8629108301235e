/**
 * ONNX models written from TypeScript: the few messages of onnx/onnx.proto a graph of standard
 * operators needs (ModelProto, GraphProto, NodeProto, AttributeProto, TensorProto,
 * ValueInfoProto and its TypeProto / TensorShapeProto), encoded with `ProtoWriter`, plus a
 * builder that names values and nodes. Field numbers below are onnx.proto's.
 *
 * Tensor data goes into `raw_data`, little-endian as the format requires (the typed arrays'
 * own byte order on every platform the project runs on), and is not copied until the model's
 * bytes are assembled.
 */
import { ProtoWriter } from "./protobuf.ts";

/** onnx.proto `TensorProto.DataType` of the element types used here. */
const DATA_TYPE = { float32: 1, uint8: 2, int32: 6, int64: 7, bool: 9 } as const;
export type OnnxElementType = keyof typeof DATA_TYPE;

/** onnx.proto `AttributeProto.AttributeType`. */
const ATTRIBUTE_TYPE = { float: 1, int: 2, string: 3, tensor: 4, floats: 6, ints: 7 } as const;

export interface OnnxTensor {
  name: string;
  type: "float32" | "int32" | "int64";
  dims: number[];
  data: Float32Array | Int32Array | BigInt64Array;
}

export type OnnxAttribute =
  | { kind: "int"; value: number }
  | { kind: "float"; value: number }
  | { kind: "ints"; value: number[] }
  | { kind: "floats"; value: number[] }
  | { kind: "string"; value: string }
  | { kind: "tensor"; value: OnnxTensor };

/** Attribute values by kind: `{ axis: attr.int(-1), epsilon: attr.float(1e-5) }`. */
export const attr = {
  int: (value: number): OnnxAttribute => ({ kind: "int", value }),
  float: (value: number): OnnxAttribute => ({ kind: "float", value }),
  ints: (value: number[]): OnnxAttribute => ({ kind: "ints", value }),
  floats: (value: number[]): OnnxAttribute => ({ kind: "floats", value }),
  string: (value: string): OnnxAttribute => ({ kind: "string", value }),
};

export interface OnnxNode {
  name: string;
  op: string;
  inputs: string[];
  outputs: string[];
  attributes: Record<string, OnnxAttribute>;
}

/** A graph input or output: element type and shape, a string for a named dynamic dimension. */
export interface OnnxValueInfo {
  name: string;
  type: OnnxElementType;
  shape: (number | string)[];
}

export interface OnnxGraph {
  name: string;
  nodes: OnnxNode[];
  initializers: OnnxTensor[];
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
}

export interface OnnxModel {
  graph: OnnxGraph;
  /** Version of the default operator set ("ai.onnx"). */
  opset: number;
  /** The IR version the opset needs (8 for opsets 14-18). */
  irVersion: number;
  producerName: string;
  producerVersion: string;
  docString?: string;
}

function elementCount(dims: readonly number[]): number {
  return dims.reduce((product, dim) => product * dim, 1);
}

function tensorMessage(tensor: OnnxTensor): ProtoWriter {
  if (tensor.data.length !== elementCount(tensor.dims)) {
    throw new RangeError(
      `ONNX tensor "${tensor.name}": ${tensor.data.length} values for dims ` +
        `[${tensor.dims.join(", ")}]`,
    );
  }
  const { buffer, byteOffset, byteLength } = tensor.data;
  return new ProtoWriter()
    .packedVarints(1, tensor.dims) // dims
    .varint(2, DATA_TYPE[tensor.type]) // data_type
    .string(8, tensor.name) // name
    .bytes(9, new Uint8Array(buffer, byteOffset, byteLength)); // raw_data
}

function attributeMessage(name: string, attribute: OnnxAttribute): ProtoWriter {
  const message = new ProtoWriter().string(1, name).varint(20, ATTRIBUTE_TYPE[attribute.kind]);
  switch (attribute.kind) {
    case "float":
      return message.float(2, attribute.value);
    case "int":
      return message.varint(3, attribute.value);
    case "string":
      return message.string(4, attribute.value);
    case "tensor":
      return message.message(5, tensorMessage(attribute.value));
    case "floats":
      return message.packedFloats(7, attribute.value);
    case "ints":
      return message.packedVarints(8, attribute.value);
  }
}

function nodeMessage(node: OnnxNode): ProtoWriter {
  const message = new ProtoWriter();
  for (const input of node.inputs) message.string(1, input);
  for (const output of node.outputs) message.string(2, output);
  message.string(3, node.name).string(4, node.op);
  for (const [name, attribute] of Object.entries(node.attributes)) {
    message.message(5, attributeMessage(name, attribute));
  }
  return message;
}

function valueInfoMessage(info: OnnxValueInfo): ProtoWriter {
  const shape = new ProtoWriter();
  for (const dim of info.shape) {
    // TensorShapeProto.Dimension: dim_value = 1, dim_param = 2.
    const dimension = typeof dim === "number"
      ? new ProtoWriter().varint(1, dim)
      : new ProtoWriter().string(2, dim);
    shape.message(1, dimension);
  }
  const tensorType = new ProtoWriter().varint(1, DATA_TYPE[info.type]).message(2, shape);
  const type = new ProtoWriter().message(1, tensorType); // TypeProto.tensor_type
  return new ProtoWriter().string(1, info.name).message(2, type);
}

/** The bytes of a `.onnx` file (a serialised ModelProto). */
export function encodeOnnxModel(model: OnnxModel): Uint8Array {
  const { graph } = model;
  const graphMessage = new ProtoWriter();
  for (const node of graph.nodes) graphMessage.message(1, nodeMessage(node));
  graphMessage.string(2, graph.name);
  for (const tensor of graph.initializers) graphMessage.message(5, tensorMessage(tensor));
  for (const input of graph.inputs) graphMessage.message(11, valueInfoMessage(input));
  for (const output of graph.outputs) graphMessage.message(12, valueInfoMessage(output));
  const opset = new ProtoWriter().string(1, "").varint(2, model.opset); // OperatorSetIdProto
  const message = new ProtoWriter()
    .varint(1, model.irVersion)
    .string(2, model.producerName)
    .string(3, model.producerVersion);
  if (model.docString !== undefined) message.string(6, model.docString);
  return message.message(7, graphMessage).message(8, opset).finish();
}

/**
 * Builds a graph node by node. Values are named `<hint>` when free, else `<hint>_<n>`; `node()`
 * returns its output's name, so operators compose as expressions:
 * `g.node("Add", [g.node("MatMul", [x, w]), b])`.
 */
export class OnnxGraphBuilder {
  readonly #name: string;
  readonly #nodes: OnnxNode[] = [];
  readonly #initializers: OnnxTensor[] = [];
  readonly #inputs: OnnxValueInfo[] = [];
  readonly #outputs: OnnxValueInfo[] = [];
  readonly #used = new Set<string>();

  constructor(name: string) {
    this.#name = name;
  }

  #fresh(hint: string): string {
    let name = hint;
    for (let n = 1; this.#used.has(name); n++) name = `${hint}_${n}`;
    this.#used.add(name);
    return name;
  }

  /** Declares a graph input; returns its name (taken as given). */
  input(info: OnnxValueInfo): string {
    if (this.#used.has(info.name)) throw new Error(`ONNX graph: "${info.name}" is already used`);
    this.#used.add(info.name);
    this.#inputs.push(info);
    return info.name;
  }

  /** Marks value `value` as the graph output `info.name` (an Identity node when they differ). */
  output(value: string, info: OnnxValueInfo): void {
    const name = value === info.name ? value : this.#single("Identity", [value], {
      output: info.name,
    });
    this.#outputs.push({ ...info, name });
  }

  /** A constant (initializer); `name` is a hint made unique. */
  constant(tensor: OnnxTensor): string {
    const name = this.#fresh(tensor.name);
    this.#initializers.push({ ...tensor, name });
    return name;
  }

  /** A float32 constant. */
  floats(name: string, dims: number[], data: Float32Array | number[]): string {
    return this.constant({ name, type: "float32", dims, data: Float32Array.from(data) });
  }

  /** An int64 constant (shapes, axes, indices). */
  int64s(name: string, values: number[], dims: number[] = [values.length]): string {
    return this.constant({ name, type: "int64", dims, data: BigInt64Array.from(values, BigInt) });
  }

  #single(
    op: string,
    inputs: string[],
    options: { attributes?: Record<string, OnnxAttribute>; output?: string },
  ): string {
    return this.nodeOutputs(op, inputs, {
      attributes: options.attributes,
      outputs: [options.output ?? op.toLowerCase()],
    })[0]!;
  }

  /** A node with one output, named after `options.name` (default: the operator). */
  node(
    op: string,
    inputs: string[],
    options: { attributes?: Record<string, OnnxAttribute>; name?: string } = {},
  ): string {
    return this.#single(op, inputs, { attributes: options.attributes, output: options.name });
  }

  /** A node with several outputs named after `options.outputs` (hints); returns their names. */
  nodeOutputs(
    op: string,
    inputs: string[],
    options: { outputs: string[]; attributes?: Record<string, OnnxAttribute> },
  ): string[] {
    const outputs = options.outputs.map((hint) => this.#fresh(hint));
    this.#nodes.push({
      name: this.#fresh(`${op}_node`),
      op,
      inputs,
      outputs,
      attributes: options.attributes ?? {},
    });
    return outputs;
  }

  build(): OnnxGraph {
    return {
      name: this.#name,
      nodes: [...this.#nodes],
      initializers: [...this.#initializers],
      inputs: [...this.#inputs],
      outputs: [...this.#outputs],
    };
  }
}
