// tfjs -> ONNX export: exportLayersModel(model, opts) gives ONNX bytes; writeModelFolder() a model folder.
export { exportLayersModel, exportLayersModelWithInfo } from './export.ts';
export type { ExportOptions, ExportResult, TensorSpec } from './export.ts';
export { writeModelFolder } from './folder.ts';
export type { WriteFolderOptions, WrittenFolder } from './folder.ts';
export { UnsupportedLayerError } from './context.ts';
export { samePadding } from './layers.ts';
