# Pinhole on CPU: ONNX Runtime's CPU execution provider, which the npm package ships.
#   docker build -t pinhole .                  (needs only the npm registry and Docker Hub)
#   docker run -p 8080:8080 pinhole            (serves the models under /app/models)
#   docker run -p 8080:8080 -v $PWD/my-models:/app/models:ro pinhole
# The GPU image is Dockerfile.cuda. Neither can be built on the developers' machines (no Docker engine);
# test/containers.test.ts lints both and runs the file layout this image's last stage assembles.

FROM node:20-bookworm-slim AS build
WORKDIR /app
# .npmrc keeps every dependency install script off (ignore-scripts): nothing is fetched beyond the registry.
COPY package.json package-lock.json .npmrc ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# Compile to dist/ (faster start than compiling TypeScript on the fly; bench/cold-start.ts), then drop
# the build tools.
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY bin ./bin
COPY proto ./proto
COPY models ./models
# No src/ in the image: bin/pinhole.js runs dist/; PINHOLE_FROM=dist makes a missing build an error.
ENV NODE_ENV=production HOST=0.0.0.0 PORT=8080 PINHOLE_FROM=dist
# numeric (the image's node user), so Kubernetes' runAsNonRoot can verify it
USER 1000:1000
EXPOSE 8080
# Node's own fetch, so the image needs no curl. Ready = every model loaded (GET /v2/health/ready).
HEALTHCHECK --interval=15s --timeout=3s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + process.env.PORT + '/v2/health/ready').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# node is PID 1 and handles SIGTERM itself: stop accepting, finish in-flight requests, exit 0.
ENTRYPOINT ["node", "bin/pinhole.js"]
CMD ["serve", "--models", "models"]
