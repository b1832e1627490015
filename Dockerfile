# The runbook CLI (worker, and every other command) built from this repository.
#   docker build -t runbook-engine .
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
COPY . .
RUN dotnet publish src/RunbookEngine.Cli -c Release -o /app

# The aspnet runtime: `runbook serve` is an ASP.NET Core app, and the CLI needs its framework to start at all.
FROM mcr.microsoft.com/dotnet/aspnet:10.0
RUN apt-get update && apt-get install -y --no-install-recommends bash ca-certificates && rm -rf /var/lib/apt/lists/*
WORKDIR /work
COPY --from=build /app /app
COPY runbooks /work/runbooks
ENTRYPOINT ["dotnet", "/app/runbook.dll"]
CMD ["--help"]
