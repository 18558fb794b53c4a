using System.CommandLine;
using Orchestrator.Cli.Commands;

var root = new RootCommand("Orchestrator: distributed GAN training and hyperparameter sweeps for .NET")
{
    TrainCommand.Create(),
};
return await root.Parse(args).InvokeAsync();
