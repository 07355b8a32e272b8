# tenantgate: the compiled single binary on a slim runtime image.
# Build:  docker build -t tenantgate .
# Run:    docker run -p 8080:8080 -v tenantgate-data:/data \
#           -e TENANTGATE_UPSTREAM=http://authhero:3000 -e TENANTGATE_ISSUER=https://auth.example.com/ \
#           -e TENANTGATE_BASE_DOMAIN=auth.example.com tenantgate

FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
# Bun comes from the npm registry as a pinned devDependency.
RUN npm ci --no-audit --no-fund
COPY tsconfig.json bunfig.toml drizzle.config.ts ./
COPY src ./src
RUN npm run build && ./dist/tenantgate --help >/dev/null

# The binary links against glibc, so the runtime is Debian slim rather than distroless/alpine.
FROM debian:bookworm-slim AS runtime
RUN groupadd --system --gid 10001 tenantgate \
 && useradd --system --uid 10001 --gid tenantgate --home-dir /data --shell /usr/sbin/nologin tenantgate \
 && mkdir -p /data && chown tenantgate:tenantgate /data
COPY --from=build /src/dist/tenantgate /usr/local/bin/tenantgate
USER tenantgate
WORKDIR /data
# One garbage-collection marker thread: a sidecar shares its cores with AuthHero, and parallel
# markers competing for them lengthened the collector's pauses (p99 2.07 -> 1.84 ms, docs/benchmarks.md).
ENV TENANTGATE_HOST=0.0.0.0 \
    TENANTGATE_PORT=8080 \
    TENANTGATE_DATA_DIR=/data \
    BUN_JSC_numberOfGCMarkers=1
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 CMD ["tenantgate", "health"]
ENTRYPOINT ["tenantgate"]
CMD ["serve"]
