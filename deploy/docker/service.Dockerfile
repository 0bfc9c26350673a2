# One image for every TypeScript service; SERVICE picks which one runs.
FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json tsconfig.base.json tsconfig.json .swcrc ./
COPY libs ./libs
COPY services ./services
COPY tests/e2e/package.json ./tests/e2e/package.json
RUN npm ci --no-audit --no-fund --omit=optional --ignore-scripts=false && npm cache clean --force
ENV HOUNSFIELD_BIND_HOST=0.0.0.0 SWC_NODE_PROJECT=/app/tsconfig.base.json
ARG SERVICE=gateway
ENV SERVICE=${SERVICE}
CMD ["sh", "-c", "exec node -r @swc-node/register services/${SERVICE}/src/main.ts"]
