# Tracer Sensor container image: two stages on Debian 12.
#
#   docker build -t tracer-sensor .
#   docker run -d --name tracer-sensor --network host --stop-timeout 30 \
#       --restart on-failure:5 --cap-add NET_RAW --cap-add NET_ADMIN \
#       -e AGENT_INTERFACE=eth0 -e AGENT_ENDPOINT_URL=https://ingest.example/flows \
#       tracer-sensor
#
# No "# syntax=" line: BuildKit then uses its built-in frontend instead of
# fetching one from a registry, so the build works offline once the base image
# is there (--build-arg DEBIAN_IMAGE=<a local Debian 12 image>; `make
# docker-check` makes one with debootstrap when no registry is reachable).
#
# The build stage installs the -dev packages with the repository's own
# scripts/install-deps.sh and builds with the Makefile, as on a host. The runtime
# stage installs only the shared libraries (install-deps.sh --runtime), runs as
# an unprivileged user, and the binary carries the file capabilities live
# capture needs (cap_net_raw, cap_net_admin); the container must still be
# granted them (--cap-add, or cap_add in docker-compose.yml). See README
# "Deployment".
#
# The user "tracer" has a fixed uid and gid (TRACER_UID, TRACER_GID; 10001 by
# default), so files mounted into the container (a 0600 token file) can be
# given to it on the host: chown 10001 /etc/tracer/token.
#
# docker stop sends SIGTERM and kills after 10 s unless --stop-timeout says
# otherwise: the image sets AGENT_SHUTDOWN_TIMEOUT=5s (the sensor's own default
# is 10 s), so ending the open flows, delivering and spooling fit in that; raise
# --stop-timeout (compose: stop_grace_period) with AGENT_SHUTDOWN_TIMEOUT.

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
ARG TRACER_UID=10001
ARG TRACER_GID=10001
COPY scripts/install-deps.sh /tmp/install-deps.sh
RUN /tmp/install-deps.sh --runtime && rm -rf /var/lib/apt/lists/* /tmp/install-deps.sh \
    && groupadd --system --gid "$TRACER_GID" tracer \
    && useradd --system --uid "$TRACER_UID" --gid tracer --home-dir /var/lib/tracer-sensor --create-home \
               --shell /usr/sbin/nologin tracer \
    && install -d -o tracer -g tracer -m 0750 /var/lib/tracer-sensor/spool
COPY --from=build /src/build/tracer-sensor /usr/local/bin/tracer-sensor
COPY --from=build /src/build/tracer-sensor.8 /usr/local/share/man/man8/tracer-sensor.8
# File capabilities: the non-root user may capture (COPY does not keep xattrs, so set them here).
RUN setcap cap_net_raw,cap_net_admin+p /usr/local/bin/tracer-sensor \
    && getcap /usr/local/bin/tracer-sensor

# The HEALTHCHECK below asks /healthz, so the image turns the metrics server on
# (the sensor's own default is off). With host networking this is the host's loopback.
# An empty AGENT_METRICS_ADDR turns it off, and then the container is unhealthy:
# nothing is asked in its place (another sensor's port could answer).
ENV AGENT_METRICS_ADDR=127.0.0.1:9108
# Inside docker stop's default 10 s (see the top of this file).
ENV AGENT_SHUTDOWN_TIMEOUT=5s
USER tracer
WORKDIR /var/lib/tracer-sensor
EXPOSE 9108
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD addr="$AGENT_METRICS_ADDR"; \
        if [ -z "$addr" ]; then echo "AGENT_METRICS_ADDR is empty: /healthz is off"; exit 1; fi; \
        case "$addr" in :*) addr="127.0.0.1$addr" ;; esac; \
        curl -fsS -g --max-time 4 "http://$addr/healthz" || exit 1
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/tracer-sensor"]
