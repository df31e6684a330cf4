// One error type for everything the face-api importer refuses (bad manifest, weights that do not match
// it, an architecture it does not know), so the CLI prints one line and tests can tell it from a crash.
export class FaceApiError extends Error {
  override readonly name = 'FaceApiError';
}
