# syntax=docker/dockerfile:1
# The coordinator: ASP.NET Core host + Orleans silo (gRPC 7700, HTTP 7701, silo 11111, gateway 30000).
# Build from the repository root:
#   docker build -f k8s/images/coordinator.Dockerfile -t orchestrator/coordinator:0.1.0 .
# .NET 10's default tags are Ubuntu 24.04 (noble) for the SDK and the runtime alike.

FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
# The coordinator's build runs `npm ci` for the dashboard's chart library (src/Coordinator/Dashboard/web).
RUN apt-get update && apt-get install -y --no-install-recommends nodejs npm && rm -rf /var/lib/apt/lists/*
# Restore from the project files alone, so that a source edit reuses the restore layer.
COPY .editorconfig Directory.Build.props Directory.Build.targets Directory.Packages.props ./
COPY build/ build/
COPY protos/ protos/
COPY src/Shared/Orchestrator.Shared.csproj src/Shared/
COPY src/Coordinator/Orchestrator.Coordinator.csproj src/Coordinator/
RUN dotnet restore src/Coordinator/Orchestrator.Coordinator.csproj -r linux-x64
COPY src/Shared/ src/Shared/
COPY src/Coordinator/ src/Coordinator/
RUN dotnet publish src/Coordinator/Orchestrator.Coordinator.csproj -c Release -r linux-x64 --self-contained false --no-restore -o /app

FROM mcr.microsoft.com/dotnet/aspnet:10.0 AS final
WORKDIR /app
COPY --from=build /app ./
# Kestrel's endpoints come from Orchestrator:GrpcPort / HttpPort, not ASPNETCORE_HTTP_PORTS (the base image sets 8080).
ENV ASPNETCORE_HTTP_PORTS=
# Non-root: the base image's 'app' user (APP_UID 1654). The root file system can be mounted read-only:
# the coordinator writes only under Orchestrator:Artifacts:Path (a volume) and /tmp (an emptyDir).
USER $APP_UID
EXPOSE 7700 7701 11111 30000
ENTRYPOINT ["dotnet", "Orchestrator.Coordinator.dll"]
