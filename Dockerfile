# syntax=docker/dockerfile:1
# Tracer Sensor container image: two stages on Debian 12.
#
#   docker build -t tracer-sensor .
#   docker run -d --name tracer-sensor --network host \
#       --cap-add NET_RAW --cap-add NET_ADMIN \
#       -e AGENT_INTERFACE=eth0 -e AGENT_ENDPOINT_URL=https://ingest.example/flows \
#       tracer-sensor
#
# The build stage installs the -dev packages with the repository's own
# scripts/install-deps.sh and builds with the Makefile, as on a host. The runtime
# stage installs only the shared libraries (install-deps.sh --runtime), runs as
# an unprivileged user, and the binary carries the file capabilities live
# capture needs (cap_net_raw, cap_net_admin); the container must still be
# granted them (--cap-add, or cap_add in docker-compose.yml). See README
# "Deployment".

ARG DEBIAN_IMAGE=debian:12-slim

# ---- build ------------------------------------------------------------------
FROM ${DEBIAN_IMAGE} AS build
WORKDIR /src
COPY scripts/install-deps.sh scripts/install-deps.sh
RUN scripts/install-deps.sh && rm -rf /var/lib/apt/lists/*
COPY . .
RUN make -j"$(nproc)" all man

# ---- runtime ----------------------------------------------------------------
FROM ${DEBIAN_IMAGE} AS runtime
COPY scripts/install-deps.sh /tmp/install-deps.sh
RUN /tmp/install-deps.sh --runtime && rm -rf /var/lib/apt/lists/* /tmp/install-deps.sh \
    && groupadd --system tracer \
    && useradd --system --gid tracer --home-dir /var/lib/tracer-sensor --create-home \
               --shell /usr/sbin/nologin tracer \
    && install -d -o tracer -g tracer -m 0750 /var/lib/tracer-sensor/spool
COPY --from=build /src/build/tracer-sensor /usr/local/bin/tracer-sensor
COPY --from=build /src/build/tracer-sensor.8 /usr/local/share/man/man8/tracer-sensor.8
# File capabilities: the non-root user may capture (COPY does not keep xattrs, so set them here).
RUN setcap cap_net_raw,cap_net_admin+p /usr/local/bin/tracer-sensor \
    && getcap /usr/local/bin/tracer-sensor

# The HEALTHCHECK below asks /healthz, so the image turns the metrics server on
# (the sensor's own default is off). With host networking this is the host's loopback.
ENV AGENT_METRICS_ADDR=127.0.0.1:9108
USER tracer
WORKDIR /var/lib/tracer-sensor
EXPOSE 9108
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD addr="${AGENT_METRICS_ADDR:-127.0.0.1:9108}"; case "$addr" in :*) addr="127.0.0.1$addr" ;; esac; \
        curl -fsS --max-time 4 "http://$addr/healthz" || exit 1
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/tracer-sensor"]
