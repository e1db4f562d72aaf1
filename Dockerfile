# Multi-stage: build with dev dependencies, run with production ones only, as a non-root user.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY tools ./tools
RUN npm ci --no-audit --no-fund

FROM node:20-bookworm-slim
ENV NODE_ENV=production
# V8 sizes an uncapped heap to the host and lets garbage pile up between full collections
# (a worker peaks over 200 MB uncapped, ~140 MB capped, at the same speed: BENCHMARKS.md 5b/5c).
ENV NODE_OPTIONS=--max-old-space-size=256
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY bin ./bin
COPY examples ./examples
USER node
ENTRYPOINT ["node", "bin/viber-bulk.js"]
CMD ["worker"]
