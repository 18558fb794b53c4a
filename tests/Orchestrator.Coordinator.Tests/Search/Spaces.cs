using Orchestrator.Shared.Sweeps;

namespace Orchestrator.Coordinator.Tests.Search;

/// <summary>Parameter lists shared by the search tests.</summary>
internal static class Spaces
{
    public static ParameterSpec Uniform(string name, double min, double max, int? gridPoints = null) =>
        new() { Name = name, Type = ParameterTypes.Uniform, Min = min, Max = max, GridPoints = gridPoints };

    public static ParameterSpec Log(string name, double min, double max, int? gridPoints = null) =>
        new() { Name = name, Type = ParameterTypes.LogUniform, Min = min, Max = max, GridPoints = gridPoints };

    public static ParameterSpec Int(string name, double min, double max, int? gridPoints = null) =>
        new() { Name = name, Type = ParameterTypes.Int, Min = min, Max = max, GridPoints = gridPoints };

    public static ParameterSpec Categorical(string name, params string[] values) =>
        new() { Name = name, Type = ParameterTypes.Categorical, Values = values };

    /// <summary>One parameter of every type.</summary>
    public static IReadOnlyList<ParameterSpec> Mixed() =>
    [
        Uniform("model.dropout", 0.0, 0.5),
        Log("optimizer.generator.lr", 1e-5, 1e-2),
        Int("model.width", 16, 128),
        Categorical("loss.type", "bce", "hinge", "wgan_gp"),
    ];
}
