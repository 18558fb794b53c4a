using System.CommandLine;
using Microsoft.AspNetCore.Builder;
using Orchestrator.Coordinator.Extensions;

namespace Orchestrator.Cli.Commands;

/// <summary>
/// `orchestrator coordinator`: runs the coordinator (the same host as the Orchestrator.Coordinator project) until
/// stopped. Configuration as ASP.NET Core reads it: appsettings, ORCHESTRATOR_* and Orchestrator__* environment
/// variables, and `--Orchestrator:Key=value` arguments, e.g. --Orchestrator:GrpcPort=7700.
/// </summary>
public static class CoordinatorCommand
{
    public static Command Create()
    {
        var settings = new Argument<string[]>("settings")
        {
            Description = "Configuration overrides such as --Orchestrator:GrpcPort=7700 --Orchestrator:Storage:Path=data/coordinator.db",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var command = new Command("coordinator", "Run the coordinator: Orleans silo, Jobs API and worker gateway")
        {
            settings,
        };
        command.TreatUnmatchedTokensAsErrors = false;
        command.SetAction(async (parse, cancellationToken) =>
        {
            var args = (parse.GetValue(settings) ?? []).Concat(parse.UnmatchedTokens).ToArray();
            var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
            builder.AddCoordinator();
            await using var app = builder.Build();
            app.MapCoordinator();
            await app.StartAsync(cancellationToken);
            try
            {
                await Task.Delay(Timeout.Infinite, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                // SIGINT or SIGTERM: stop gracefully (grains write their state, workers see the stream end).
            }
            await app.StopAsync(CancellationToken.None);
            return ExitCodes.Ok;
        });
        return command;
    }
}
