# Multi-stage build: compile in the Rust image, run from a small Debian image as a non-root user.
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin premium-spread \
 && strip target/release/premium-spread

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --no-create-home premium
COPY --from=build /src/target/release/premium-spread /usr/local/bin/premium-spread
USER 10001
ENV LOG_FORMAT=json
ENTRYPOINT ["premium-spread"]
CMD ["api"]
