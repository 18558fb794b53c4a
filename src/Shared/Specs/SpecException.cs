namespace Orchestrator.Shared.Specs;

/// <summary>A spec failed validation; every problem names its field path.</summary>
public sealed class SpecException(IReadOnlyList<SpecError> errors)
    : Exception(Format(errors))
{
    public IReadOnlyList<SpecError> Errors { get; } = errors;

    private static string Format(IReadOnlyList<SpecError> errors) =>
        errors.Count == 1
            ? errors[0].ToString()
            : $"{errors.Count} problems:{Environment.NewLine}" + string.Join(Environment.NewLine, errors.Select(e => "  " + e));
}

/// <summary>One validation problem: the field's dotted path and what is wrong with it.</summary>
public sealed record SpecError(string Field, string Message)
{
    public override string ToString() => $"{Field}: {Message}";
}
