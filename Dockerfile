# Pinhole with ONNX Runtime's CUDA execution provider.
#   docker build -t pinhole .
#   docker run --gpus all -p 8080:8080 pinhole
#
# What this image needs, honestly:
# - at build time: the npm registry (dependencies) and api.nuget.org, because onnxruntime-node does not
#   ship its CUDA provider libraries on npm; its own install script fetches them
#   (Microsoft.ML.OnnxRuntime.Gpu.Linux, the same version as the npm package);
# - at run time: an NVIDIA GPU, a driver for CUDA 12, and the NVIDIA container toolkit
#   (`docker run --gpus all ...`). Without a GPU the server still starts and says it is on CPU
#   (`--ep cuda,cpu` falls back per model and /v1/models reports the provider in use).
# Neither docker build nor the CUDA path can be exercised on the developers' machines (no Docker engine,
# no GPU); the CPU fallback is covered by the test suite, and test/containers.test.ts lints this file and
# runs the file layout its last stage assembles. The CPU image is Dockerfile.cpu.

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
# npm ci runs no install scripts (.npmrc ignore-scripts); run onnxruntime-node's download step explicitly
# for CUDA 12 and check that it brought the provider library.
RUN npm ci --no-audit --no-fund \
 && ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules/onnxruntime-node/script/install.js \
 && ls node_modules/onnxruntime-node/bin/napi-v*/linux/x64/libonnxruntime_providers_cuda.so
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund

# CUDA 12 runtime + cuDNN 9: what ORT 1.30's CUDA provider links against.
FROM nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04
COPY --from=build /usr/local/bin/node /usr/local/bin/node
# fonts: the labels drawn on annotated images; libturbojpeg (Ubuntu's name for libturbojpeg.so.0's package):
# the JPEG decoder (src/runtime/jpeg-turbo.ts; without it sharp decodes every JPEG, for about twice the CPU)
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates fonts-dejavu-core libturbojpeg \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --create-home --uid 10001 pinhole
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY bin ./bin
# the web console's sources, compiled in memory at its first visit (esbuild), and the one module of
# src/ they bundle (the class colours the server's annotated images use too)
COPY web ./web
COPY src/vision/palette.ts ./src/vision/palette.ts
COPY proto ./proto
COPY models ./models
ENV NODE_ENV=production HOST=0.0.0.0 PORT=8080 PINHOLE_FROM=dist
USER 10001:10001
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + process.env.PORT + '/v2/health/ready').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "bin/pinhole.js"]
CMD ["serve", "--models", "models", "--ep", "cuda,cpu"]
