# One image for every TypeScript service; SERVICE picks which one runs.
FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json tsconfig.base.json tsconfig.json .swcrc ./
COPY libs ./libs
COPY services ./services
COPY tests/e2e/package.json ./tests/e2e/package.json
RUN npm ci --no-audit --no-fund --ignore-scripts=false && npm cache clean --force
COPY scripts/ts-register.cjs ./scripts/ts-register.cjs
# Compile every service and library source once at build time; at run time nothing compiles.
RUN node scripts/ts-register.cjs --precompile
ENV HOUNSFIELD_BIND_HOST=0.0.0.0
ARG SERVICE=gateway
ENV SERVICE=${SERVICE}
CMD ["sh", "-c", "exec node -r ./scripts/ts-register.cjs services/${SERVICE}/src/main.ts"]
