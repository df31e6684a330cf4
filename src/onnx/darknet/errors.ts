// One error type for everything the darknet importer rejects (bad cfg, bad weights, unsupported layer,
// bad names/tree file), so the CLI can print it as one line and tests can tell it from a crash.
export class DarknetError extends Error {
  override readonly name = 'DarknetError';
}
