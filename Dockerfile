# One image for every anomstack-ts service: `docker run anomstack-ts start <kind>` (see docker-compose.yml).
FROM node:20-bookworm-slim

# Python ingest functions (ingest_fn) run in the system interpreter with pandas and requests,
# as the original's examples expect.
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 python3-pandas python3-requests ca-certificates \
  && rm -rf /var/lib/apt/lists/*

# Extra Python packages for ingest functions: metrics/requirements.txt (comments only by default).
COPY metrics/requirements.txt /tmp/requirements.txt
RUN if grep -qvE '^[[:space:]]*(#|$)' /tmp/requirements.txt; then \
      apt-get update \
      && apt-get install -y --no-install-recommends python3-pip \
      && pip3 install --no-cache-dir --break-system-packages -r /tmp/requirements.txt \
      && apt-get purge -y python3-pip && apt-get autoremove -y && rm -rf /var/lib/apt/lists/*; \
    fi

ENV NODE_ENV=production \
    ANOMSTACK_PYTHON=/usr/bin/python3 \
    ANOMSTACK_METRICS_DIR=/app/metrics \
    ANOMSTACK_DEFAULTS_DIR=/app/defaults

WORKDIR /app

# `npm ci` builds dist/ through `prepare` (scripts/build.mjs, esbuild), so the sources come first;
# the bin then runs compiled JavaScript. tsx stays a production dependency: ingest functions
# written in TypeScript run through it.
COPY package.json package-lock.json ./
COPY scripts/build.mjs ./scripts/build.mjs
COPY bin ./bin
COPY shared ./shared
COPY services ./services
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force && test -f dist/.build-stamp

COPY defaults ./defaults
COPY metrics ./metrics
COPY tsconfig.json ./

# Local model files and plots live under /app; the node user owns them.
RUN mkdir -p /app/models /app/plots && chown node:node /app/models /app/plots
USER node

ENTRYPOINT ["node", "/app/bin/anomstack.mjs"]
CMD ["start", "all"]
