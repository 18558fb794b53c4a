# syntax=docker/dockerfile:1
# The worker for NVIDIA GPUs: the same `orchestrator` command built with -p:TorchBackend=cuda
# (TorchSharp-cuda-linux, libtorch 2.10.0 with its CUDA libraries) on an NVIDIA CUDA runtime base with the
# ASP.NET Core runtime copied in. Build from the repository root (needs a registry that serves
# TorchSharp-cuda-linux; the image is several GB):
#   docker build -f k8s/images/worker-cuda.Dockerfile -t orchestrator/worker-cuda:0.1.0 .
# The node needs an NVIDIA driver recent enough for CUDA 12.8 and the NVIDIA device plugin.

ARG CUDA_IMAGE=nvidia/cuda:12.8.1-runtime-ubuntu24.04
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
# The coordinator's build runs `npm ci` for the dashboard's chart library (src/Coordinator/Dashboard/web).
RUN apt-get update && apt-get install -y --no-install-recommends nodejs npm && rm -rf /var/lib/apt/lists/*
COPY .editorconfig Directory.Build.props Directory.Build.targets Directory.Packages.props ./
COPY build/ build/
COPY protos/ protos/
COPY src/Shared/Orchestrator.Shared.csproj src/Shared/
COPY src/Worker/Orchestrator.Worker.csproj src/Worker/
COPY src/Coordinator/Orchestrator.Coordinator.csproj src/Coordinator/
COPY src/Cli/Orchestrator.Cli.csproj src/Cli/
RUN dotnet restore src/Cli/Orchestrator.Cli.csproj -r linux-x64 -p:TorchBackend=cuda
COPY src/Shared/ src/Shared/
COPY src/Worker/ src/Worker/
COPY src/Coordinator/ src/Coordinator/
COPY src/Cli/ src/Cli/
# GLIBCXX_3.4.32: the SDK image is Ubuntu 24.04 like the CUDA base below, whose libstdc++ has the version, so
# build/TorchSharpGlibcxx.targets leaves libLibTorchSharp.so as it is.
RUN dotnet publish src/Cli/Orchestrator.Cli.csproj -c Release -r linux-x64 --self-contained false --no-restore \
      -p:TorchBackend=cuda -o /app

# The .NET runtime, ASP.NET Core included (the collective transport hosts Kestrel), from the official image of
# the same distro (Ubuntu 24.04).
FROM mcr.microsoft.com/dotnet/aspnet:10.0 AS dotnet

# libtorch-cuda (a dependency of TorchSharp-cuda-linux) carries its own CUDA and cuDNN libraries; the base
# brings the CUDA runtime layout the NVIDIA container toolkit expects. Keep its CUDA major.minor equal to the
# one that package was built for, and its distro equal to the SDK image's.
FROM ${CUDA_IMAGE} AS final
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libssl3t64 zlib1g tzdata \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 1654 app && useradd --uid 1654 --gid 1654 --no-create-home --shell /usr/sbin/nologin app
COPY --from=dotnet /usr/share/dotnet /usr/share/dotnet
RUN ln -s /usr/share/dotnet/dotnet /usr/bin/dotnet
WORKDIR /app
COPY --from=build /app ./
ENV DOTNET_ROOT=/usr/share/dotnet \
    PATH=/app:$PATH \
    XDG_CACHE_HOME=/cache \
    NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility
USER 1654
# 29500 + slot: collectives; 9464: Prometheus /metrics (--metrics-port).
EXPOSE 29500 9464
ENTRYPOINT ["/app/orchestrator"]
CMD ["worker"]
