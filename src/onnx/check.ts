// Validity check for generated graphs: the model must load in the same runtime that will serve it.
import ort from 'onnxruntime-node';

export interface ModelIO {
  inputs: readonly string[];
  outputs: readonly string[];
}

export async function checkModel(bytes: Uint8Array): Promise<ModelIO> {
  const session = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'basic' });
  try {
    return { inputs: [...session.inputNames], outputs: [...session.outputNames] };
  } finally {
    await session.release();
  }
}
