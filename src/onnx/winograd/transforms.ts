// Winograd minimal-filtering matrices F(m x m, 3 x 3) (Lavin & Gray, "Fast Algorithms for Convolutional
// Neural Networks", 2015) and the constant tensors the rewritten graph multiplies by. An output tile of
// m x m needs an input tile of a = m + 2; Y = A^T [(G g G^T) . (B^T d B)] A.

export type TileSize = 2 | 3 | 4;

export interface WinogradMatrices {
  m: TileSize;
  /** input tile size, m + 2 */
  a: number;
  /** a x a */
  BT: number[][];
  /** a x 3 */
  G: number[][];
  /** m x a */
  AT: number[][];
}

const F2: WinogradMatrices = {
  m: 2, a: 4,
  BT: [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]],
  G: [[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]],
  AT: [[1, 1, 1, 0], [0, 1, -1, -1]],
};

// Points 0, 1, -1, 2 (as wincnn generates them).
const F3: WinogradMatrices = {
  m: 3, a: 5,
  BT: [[2, -1, -2, 1, 0], [0, -2, -1, 1, 0], [0, 2, -3, 1, 0], [0, -1, 0, 1, 0], [0, 2, -1, -2, 1]],
  G: [[1 / 2, 0, 0], [-1 / 2, -1 / 2, -1 / 2], [-1 / 6, 1 / 6, -1 / 6], [1 / 6, 1 / 3, 2 / 3], [0, 0, 1]],
  AT: [[1, 1, 1, 1, 0], [0, 1, -1, 2, 0], [0, 1, 1, 4, 1]],
};

// Interpolation points 0, +-1, +-2 (the usual choice; points of small magnitude keep the error growth low).
const F4: WinogradMatrices = {
  m: 4, a: 6,
  BT: [
    [4, 0, -5, 0, 1, 0],
    [0, -4, -4, 1, 1, 0],
    [0, 4, -4, -1, 1, 0],
    [0, -2, -1, 2, 1, 0],
    [0, 2, -1, -2, 1, 0],
    [0, 4, 0, -5, 0, 1],
  ],
  G: [
    [1 / 4, 0, 0],
    [-1 / 6, -1 / 6, -1 / 6],
    [-1 / 6, 1 / 6, -1 / 6],
    [1 / 24, 1 / 12, 1 / 6],
    [1 / 24, -1 / 12, 1 / 6],
    [0, 0, 1],
  ],
  AT: [[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]],
};

export function matrices(m: TileSize): WinogradMatrices {
  return m === 2 ? F2 : m === 3 ? F3 : F4;
}

/**
 * The input transform as Conv weights [a*a, 1, a, a]: output channel i*a+j of a stride-m convolution over
 * one input channel is (B^T d B)[i][j] of the tile under it.
 */
export function inputTransformKernel(w: WinogradMatrices): Float32Array {
  const { a, BT } = w;
  const out = new Float32Array(a * a * a * a);
  for (let i = 0; i < a; i++) for (let j = 0; j < a; j++) {
    for (let u = 0; u < a; u++) for (let v = 0; v < a; v++) out[((i * a + j) * a + u) * a + v] = BT[i][u] * BT[j][v];
  }
  return out;
}

/** The output transform as a matrix [m*m, a*a]: row p*m+q, column i*a+j holds A^T[p][i] A^T[q][j]. */
export function outputTransformMatrix(w: WinogradMatrices): Float32Array {
  const { a, m, AT } = w;
  const out = new Float32Array(m * m * a * a);
  for (let p = 0; p < m; p++) for (let q = 0; q < m; q++) {
    for (let i = 0; i < a; i++) for (let j = 0; j < a; j++) out[(p * m + q) * a * a + i * a + j] = AT[p][i] * AT[q][j];
  }
  return out;
}

/**
 * Conv weights [K, C, 3, 3] transformed to U = G g G^T, laid out [a*a, K, C] (one K x C matrix per point
 * of the tile, the left operand of the batched MatMul). Summed in double precision.
 */
export function transformWeights(w: WinogradMatrices, g: Float32Array, K: number, C: number): Float32Array {
  const { a, G } = w;
  const out = new Float32Array(a * a * K * C);
  const t = new Float64Array(a * 3);
  for (let k = 0; k < K; k++) for (let c = 0; c < C; c++) {
    const base = (k * C + c) * 9;
    for (let i = 0; i < a; i++) for (let v = 0; v < 3; v++) {
      t[i * 3 + v] = G[i][0] * g[base + v] + G[i][1] * g[base + 3 + v] + G[i][2] * g[base + 6 + v];
    }
    for (let i = 0; i < a; i++) for (let j = 0; j < a; j++) {
      const x = t[i * 3] * G[j][0] + t[i * 3 + 1] * G[j][1] + t[i * 3 + 2] * G[j][2];
      out[((i * a + j) * K + k) * C + c] = x;
    }
  }
  return out;
}
