# The public entry with the console baked in:
#   docker build -f deploy/docker/caddy.Dockerfile -t junction-caddy .
# The Caddyfile imports one of caddy/engines/*.caddy (JUNCTION_ENGINE_DISCOVERY:
# static addresses, or dns for one upstream per pod or container).
FROM caddy:2
ENV JUNCTION_CONSOLE_DIR=/srv/console
# the Caddyfile binds loopback unless told otherwise; a container must listen on all
ENV JUNCTION_PUBLIC_HOST=0.0.0.0
# It listens on 8080, so it needs no capability and runs as a plain user (a
# binary with file capabilities would not start once every capability is
# dropped); /config and /data are its only writes.
RUN setcap -r /usr/bin/caddy && chown -R 10001:10001 /config /data
COPY caddy/Caddyfile /etc/caddy/Caddyfile
COPY caddy/engines /etc/caddy/engines
COPY services/console /srv/console
USER 10001
