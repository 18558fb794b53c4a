using Orchestrator.Coordinator.Extensions;

var builder = WebApplication.CreateBuilder(args);
builder.AddCoordinator();

var app = builder.Build();
app.MapCoordinator();
app.Run();

/// <summary>The coordinator's entry point; public for WebApplicationFactory in tests.</summary>
public partial class Program;
