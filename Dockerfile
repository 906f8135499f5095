# Flowline built from source; PostgreSQL runs in its own container (docker-compose.yml).
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin flowline

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/flowline --create-home flowline
COPY --from=build /src/target/release/flowline /usr/local/bin/flowline
USER flowline
ENV FLOWLINE_LISTEN=0.0.0.0:8080 \
    FLOWLINE_DATA_DIR=/var/lib/flowline
EXPOSE 8080
ENTRYPOINT ["flowline"]
CMD ["serve"]
