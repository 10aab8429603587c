# The service image: the worker and the webhook run from it (docker-compose.yml picks the command).
FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
# Compiled once here: the services run plain JavaScript (no TypeScript compiler in their memory),
# then the dev dependencies the build needed are dropped.
RUN npm run build && npm prune --omit=dev --no-audit --no-fund
ENV NODE_ENV=production
# Runs as the unprivileged user the node image ships; /data holds webhook secrets.
RUN mkdir -p -m 700 /data && chown node:node /data
USER node
EXPOSE 3000
CMD ["node", "dist/scripts/start.js"]
