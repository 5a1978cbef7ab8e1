# syntax=docker/dockerfile:1
# Agent Nonce: the control plane and/or the gateway (`serve --role api|gateway|all`).
# Build: docker build -t agent-nonce .      Run several replicas: see compose.yaml and docs/operations.md.

ARG NODE_IMAGE=node:20-bookworm-slim

# 1. Build: every dependency (TypeScript), then dist/ for the server and the workspace packages.
FROM ${NODE_IMAGE} AS build
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json tsconfig.base.json tsconfig.json tsconfig.build.json ./
COPY packages/sdk/package.json packages/sdk/
COPY packages/langchain/package.json packages/langchain/
COPY packages/ai-sdk/package.json packages/ai-sdk/
RUN npm ci --ignore-scripts && npm rebuild better-sqlite3
COPY bin ./bin
COPY src ./src
COPY packages ./packages
RUN npm run build

# 2. Production dependencies only (native better-sqlite3 built for this platform; no scripts of our own run).
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
COPY packages/sdk/package.json packages/sdk/
COPY packages/langchain/package.json packages/langchain/
COPY packages/ai-sdk/package.json packages/ai-sdk/
RUN npm ci --omit=dev --ignore-scripts && npm rebuild better-sqlite3

# 3. Runtime: dist/, the production node_modules, a non-root user, nothing else (no sources, no compilers).
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    AGENT_NONCE_HOST=0.0.0.0 \
    AGENT_NONCE_DATA_DIR=/data \
    AGENT_NONCE_LOG_LEVEL=info
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/bin ./bin
COPY --from=build /app/dist ./dist
COPY --from=build /app/packages/sdk/package.json ./packages/sdk/package.json
COPY --from=build /app/packages/sdk/dist ./packages/sdk/dist
RUN groupadd --system --gid 10001 agentnonce \
 && useradd --system --uid 10001 --gid agentnonce --home-dir /data --shell /usr/sbin/nologin agentnonce \
 && mkdir -p /data && chown agentnonce:agentnonce /data && chmod 0700 /data
USER agentnonce:agentnonce
VOLUME ["/data"]
EXPOSE 7070 7071
# /healthz on the gateway listener answers for gateway-only replicas too (the control plane has its own).
# Node's fetch, so the image needs no curl. Readiness for a load balancer: GET /readyz on either listener.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.AGENT_NONCE_GATEWAY_PORT||7071)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# SIGTERM drains in-flight requests (AGENT_NONCE_DRAIN_TIMEOUT, default 30s), flushes the audit, exits 0:
# keep `stop_grace_period` above the drain timeout. exec form, so node is PID 1's only child and gets the signal.
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "bin/agent-nonce.js"]
CMD ["serve"]
