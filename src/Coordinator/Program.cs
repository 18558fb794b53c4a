var builder = WebApplication.CreateBuilder(args);
var app = builder.Build();
app.MapGet("/alive", () => Results.Ok("alive"));
app.Run();

/// <summary>The coordinator's entry point; public for WebApplicationFactory in tests.</summary>
public partial class Program;
