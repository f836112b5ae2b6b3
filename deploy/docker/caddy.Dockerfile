# The public entry with the console baked in:
#   docker build -f deploy/docker/caddy.Dockerfile -t junction-caddy .
FROM caddy:2
ENV JUNCTION_CONSOLE_DIR=/srv/console
COPY caddy/Caddyfile /etc/caddy/Caddyfile
COPY services/console /srv/console
