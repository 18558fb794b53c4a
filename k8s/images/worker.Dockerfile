# syntax=docker/dockerfile:1
# The worker for CPUs: the `orchestrator` command (worker agent + `orchestrator train` child processes) with
# TorchSharp-cpu (libtorch 2.10.0). Build from the repository root:
#   docker build -f k8s/images/worker.Dockerfile -t orchestrator/worker:0.1.0 .
#
# libLibTorchSharp.so asks for GLIBCXX_3.4.32. build/TorchSharpGlibcxx.targets marks that requirement weak at
# publish, but only when the build image's libstdc++ lacks the version (Debian 12). The .NET 10 images are
# Ubuntu 24.04, whose libstdc++ has it, so the patch is a no-op here; build and run stage share the distro so
# that the check made at publish holds where the library loads.

FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
ARG TORCH_BACKEND=cpu
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
RUN dotnet restore src/Cli/Orchestrator.Cli.csproj -r linux-x64 -p:TorchBackend=$TORCH_BACKEND
COPY src/Shared/ src/Shared/
COPY src/Worker/ src/Worker/
COPY src/Coordinator/ src/Coordinator/
COPY src/Cli/ src/Cli/
# linux-x64 only: a portable publish would also carry libtorch for Windows and macOS.
RUN dotnet publish src/Cli/Orchestrator.Cli.csproj -c Release -r linux-x64 --self-contained false --no-restore \
      -p:TorchBackend=$TORCH_BACKEND -o /app

FROM mcr.microsoft.com/dotnet/aspnet:10.0 AS final
WORKDIR /app
COPY --from=build /app ./
ENV ASPNETCORE_HTTP_PORTS= \
    PATH=/app:$PATH \
    XDG_CACHE_HOME=/cache
# Non-root ('app', APP_UID 1654); read-only root file system: trials write under --work-dir and the
# evaluation classifier cache under $XDG_CACHE_HOME, both volumes in Kubernetes.
USER $APP_UID

# 29500 + slot: collectives; 9464: Prometheus /metrics (--metrics-port).
EXPOSE 29500 9464
ENTRYPOINT ["/app/orchestrator"]
CMD ["worker"]
