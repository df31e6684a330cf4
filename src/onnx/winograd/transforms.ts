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
 * of the tile). Summed in double precision. This is most of the pass's time (a million kernels for a
 * 1024 x 1024 layer), hence flat arrays and hoisted indices.
 */
export function transformWeights(w: WinogradMatrices, g: Float32Array, K: number, C: number): Float32Array {
  const { a } = w;
  const G = Float64Array.from(w.G.flat());
  const plane = K * C;
  const out = new Float32Array(a * a * plane);
  const t = new Float64Array(a * 3);
  for (let kc = 0; kc < plane; kc++) {
    const base = kc * 9;
    const g0 = g[base], g1 = g[base + 1], g2 = g[base + 2], g3 = g[base + 3], g4 = g[base + 4];
    const g5 = g[base + 5], g6 = g[base + 6], g7 = g[base + 7], g8 = g[base + 8];
    // t = G g (a x 3)
    for (let i = 0; i < a; i++) {
      const x = G[i * 3], y = G[i * 3 + 1], z = G[i * 3 + 2];
      t[i * 3] = x * g0 + y * g3 + z * g6;
      t[i * 3 + 1] = x * g1 + y * g4 + z * g7;
      t[i * 3 + 2] = x * g2 + y * g5 + z * g8;
    }
    // U[i][j] = t[i] . G[j]
    for (let i = 0; i < a; i++) {
      const t0 = t[i * 3], t1 = t[i * 3 + 1], t2 = t[i * 3 + 2];
      for (let j = 0; j < a; j++) out[(i * a + j) * plane + kc] = t0 * G[j * 3] + t1 * G[j * 3 + 1] + t2 * G[j * 3 + 2];
    }
  }
  return out;
}
