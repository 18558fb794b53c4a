using System.Globalization;
using Orchestrator.Shared.Sweeps;

namespace Orchestrator.Coordinator.Search;

/// <summary>A sweep's parameters as a box the searchers sample from, clamp into and format for the trial spec.</summary>
/// <remarks>
/// Besides the caller's values (the number, or the choice index), the searchers work in "model space": log of the
/// value for log_uniform parameters, the value itself otherwise. Densities and perturbations are defined there.
/// </remarks>
public sealed class SearchSpace
{
    private readonly ParameterKind[] _kinds;
    private readonly double[] _low;   // model space
    private readonly double[] _high;  // model space

    public SearchSpace(IReadOnlyList<ParameterSpec> parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (parameters.Count == 0) throw new ArgumentException("a search space needs at least one parameter", nameof(parameters));
        Parameters = parameters;
        _kinds = new ParameterKind[parameters.Count];
        _low = new double[parameters.Count];
        _high = new double[parameters.Count];
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < parameters.Count; i++)
        {
            var p = parameters[i] ?? throw new ArgumentException($"parameter {i} is null", nameof(parameters));
            if (!names.Add(p.Name)) throw new ArgumentException($"parameter '{p.Name}' appears twice", nameof(parameters));
            (_kinds[i], _low[i], _high[i]) = Describe(p);
        }
    }

    public IReadOnlyList<ParameterSpec> Parameters { get; }

    public int Count => _kinds.Length;

    internal ParameterKind Kind(int index) => _kinds[index];

    /// <summary>Lower bound in model space (log of Min for log_uniform; 0 for categorical).</summary>
    internal double Low(int index) => _low[index];

    /// <summary>Upper bound in model space (log of Max for log_uniform; choices - 1 for categorical).</summary>
    internal double High(int index) => _high[index];

    /// <summary>Number of choices of a categorical parameter.</summary>
    internal int Choices(int index) => Parameters[index].Values.Count;

    /// <summary>One point drawn uniformly: uniform in value, in log space for log_uniform, over the whole numbers for int.</summary>
    public double[] Sample(DeterministicRandom random)
    {
        var point = new double[Count];
        for (int i = 0; i < point.Length; i++) point[i] = SampleValue(i, random);
        return point;
    }

    /// <summary>A value of parameter <paramref name="index"/> drawn as <see cref="Sample"/> does.</summary>
    public double SampleValue(int index, DeterministicRandom random)
    {
        switch (_kinds[index])
        {
            case ParameterKind.Categorical:
                return random.NextInt(Choices(index));
            case ParameterKind.Int:
                // Every whole number of [low, high] equally likely.
                int span = checked((int)(_high[index] - _low[index]) + 1);
                return _low[index] + random.NextInt(span);
            default:
                return FromModel(index, _low[index] + random.NextDouble() * (_high[index] - _low[index]));
        }
    }

    /// <summary>The nearest valid value: inside [Min, Max], whole for int, a valid choice index for categorical.</summary>
    public double Clamp(int index, double value)
    {
        if (double.IsNaN(value)) throw new ArgumentException($"parameter '{Parameters[index].Name}': value is NaN", nameof(value));
        var kind = _kinds[index];
        if (kind is ParameterKind.Int or ParameterKind.Categorical) value = Math.Round(value, MidpointRounding.AwayFromZero);
        double low = kind == ParameterKind.LogUniform ? Parameters[index].Min!.Value : _low[index];
        double high = kind == ParameterKind.LogUniform ? Parameters[index].Max!.Value : _high[index];
        return Math.Clamp(value, low, high);
    }

    /// <summary>A copy of <paramref name="point"/> with every value clamped (see <see cref="Clamp(int, double)"/>).</summary>
    public double[] Clamp(double[] point)
    {
        CheckLength(point);
        var clamped = new double[point.Length];
        for (int i = 0; i < point.Length; i++) clamped[i] = Clamp(i, point[i]);
        return clamped;
    }

    /// <summary>The YAML scalar text of each value, keyed by parameter name, in parameter order.</summary>
    public IReadOnlyDictionary<string, string> Format(double[] point)
    {
        CheckLength(point);
        var text = new Dictionary<string, string>(point.Length, StringComparer.Ordinal);
        for (int i = 0; i < point.Length; i++) text[Parameters[i].Name] = FormatValue(i, point[i]);
        return text;
    }

    /// <summary>
    /// The YAML scalar text of one value: invariant culture, shortest round-trippable form for real numbers,
    /// no decimals for int (the trial-spec reader parses those as whole numbers only), the choice's own text
    /// for categorical.
    /// </summary>
    public string FormatValue(int index, double value)
    {
        double v = Clamp(index, value);
        return _kinds[index] switch
        {
            ParameterKind.Categorical => Parameters[index].Values[(int)v],
            ParameterKind.Int => ((long)v).ToString(CultureInfo.InvariantCulture),
            _ => v.ToString("R", CultureInfo.InvariantCulture),
        };
    }

    /// <summary>A value in model space (log for log_uniform).</summary>
    internal double ToModel(int index, double value) =>
        _kinds[index] == ParameterKind.LogUniform ? Math.Log(value) : value;

    /// <summary>A model-space value back as a parameter value, clamped.</summary>
    internal double FromModel(int index, double model) =>
        Clamp(index, _kinds[index] == ParameterKind.LogUniform ? Math.Exp(model) : model);

    /// <summary>"name:type" per parameter: persisted with searcher state so a restore into a changed space fails loudly.</summary>
    internal string[] Signature()
    {
        var signature = new string[Count];
        for (int i = 0; i < Count; i++)
        {
            var p = Parameters[i];
            signature[i] = _kinds[i] == ParameterKind.Categorical
                ? $"{p.Name}:{p.Type}:{p.Values.Count}"
                : string.Create(CultureInfo.InvariantCulture, $"{p.Name}:{p.Type}:{p.Min:R}:{p.Max:R}");
        }
        return signature;
    }

    internal void CheckLength(double[] point)
    {
        ArgumentNullException.ThrowIfNull(point);
        if (point.Length != Count)
            throw new ArgumentException($"a point of this space has {Count} values, got {point.Length}", nameof(point));
    }

    private static (ParameterKind Kind, double Low, double High) Describe(ParameterSpec p)
    {
        if (string.IsNullOrWhiteSpace(p.Name)) throw new ArgumentException("a parameter has no name");
        if (p.Type == ParameterTypes.Categorical)
        {
            if (p.Values.Count == 0) throw new ArgumentException($"categorical parameter '{p.Name}' has no values");
            return (ParameterKind.Categorical, 0, p.Values.Count - 1);
        }
        var kind = p.Type switch
        {
            ParameterTypes.Uniform => ParameterKind.Uniform,
            ParameterTypes.LogUniform => ParameterKind.LogUniform,
            ParameterTypes.Int => ParameterKind.Int,
            _ => throw new ArgumentException(
                $"parameter '{p.Name}' has unknown type '{p.Type}' (expected one of {string.Join(", ", ParameterTypes.All)})"),
        };
        if (p.Min is not double min || p.Max is not double max)
            throw new ArgumentException($"{p.Type} parameter '{p.Name}' needs both min and max");
        if (!double.IsFinite(min) || !double.IsFinite(max) || min > max)
            throw new ArgumentException($"parameter '{p.Name}': min {min} and max {max} are not a finite range with min <= max");
        switch (kind)
        {
            case ParameterKind.LogUniform:
                if (min <= 0) throw new ArgumentException($"log_uniform parameter '{p.Name}' needs min > 0, got {min}");
                return (kind, Math.Log(min), Math.Log(max));
            case ParameterKind.Int:
                double low = Math.Ceiling(min), high = Math.Floor(max);
                if (low > high) throw new ArgumentException($"int parameter '{p.Name}': no whole number in [{min}, {max}]");
                if (high - low > int.MaxValue - 1) throw new ArgumentException($"int parameter '{p.Name}': range too wide");
                return (kind, low, high);
            default:
                return (kind, min, max);
        }
    }
}
