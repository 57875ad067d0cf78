# Production image: the `nusa-journal` binary plus the PostgreSQL client tools it
# uses for per-tenant backup and restore (pg_dump / pg_restore).
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin nusa-journal

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates postgresql-client-15 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --no-create-home nusa
COPY --from=build /src/target/release/nusa-journal /usr/local/bin/nusa-journal
USER nusa
ENV BIND_ADDR=0.0.0.0:8080 LOG_FORMAT=json
EXPOSE 8080
ENTRYPOINT ["nusa-journal"]
CMD ["serve"]
