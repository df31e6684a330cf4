# Pinhole with ONNX Runtime's CUDA execution provider.
#
# What this image needs, honestly:
# - at build time: the npm registry (dependencies) and api.nuget.org, because onnxruntime-node does not
#   ship its CUDA provider libraries on npm; its own install script fetches them
#   (Microsoft.ML.OnnxRuntime.Gpu.Linux, the same version as the npm package);
# - at run time: an NVIDIA GPU, a driver for CUDA 12, and the NVIDIA container toolkit
#   (`docker run --gpus all ...`). Without a GPU the server still starts and says it is on CPU
#   (`--ep cuda,cpu` falls back per model and /v1/models reports the provider in use).
# Neither docker build nor the CUDA path can be exercised on the developers' machines (no Docker engine,
# no GPU); the CPU fallback is covered by the test suite.

FROM node:20-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
# npm ci skips onnxruntime-node's download step (.npmrc and allowScripts); run it explicitly for CUDA 12.
RUN npm ci --omit=dev --no-audit --no-fund \
 && ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules/onnxruntime-node/script/install.js \
 && ls node_modules/onnxruntime-node/bin/napi-v*/linux/x64/libonnxruntime_providers_cuda.so

# CUDA 12 runtime + cuDNN 9: what ORT 1.30's CUDA provider links against.
FROM nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04
COPY --from=deps /usr/local/bin/node /usr/local/bin/node
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl fonts-dejavu-core \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --create-home --uid 10001 pinhole
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json tsconfig.json ./
COPY bin ./bin
COPY src ./src
COPY web ./web
COPY proto ./proto
COPY models ./models
USER pinhole
ENV NODE_ENV=production HOST=0.0.0.0 PORT=8080
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=60s --retries=3 \
  CMD curl -fsS "http://127.0.0.1:${PORT}/v2/health/ready" || exit 1
ENTRYPOINT ["node", "bin/pinhole.js"]
CMD ["serve", "--models", "models", "--ep", "cuda,cpu"]
