using Orchestrator.Shared.Sweeps;

namespace Orchestrator.Coordinator.Search;

/// <summary>Exhaustive search over the cartesian product of each parameter's grid values.</summary>
/// <remarks>
/// Trial n gets the n-th point of the product in a fixed order (the first parameter varies slowest, like nested
/// loops in parameter order), so the searcher needs no memory at all: a retried or restored Suggest gives the
/// same point, and the grid is exhausted (null) once n reaches the product's size.
/// Grid values: numeric ranges as evenly spaced points including both ends (spaced in log space for
/// log_uniform), int ranges as the distinct whole numbers among those points, categorical parameters all choices.
/// </remarks>
public sealed class GridSearcher : ISearcher
{
    public const string AlgorithmName = SearchAlgorithms.Grid;

    private readonly SearchSpace _space;
    private readonly int _defaultPoints;
    private readonly double[][] _values;

    public GridSearcher(SearchSpace space, int defaultGridPoints)
    {
        ArgumentNullException.ThrowIfNull(space);
        if (defaultGridPoints < 1) throw new ArgumentOutOfRangeException(nameof(defaultGridPoints), defaultGridPoints, "grid points must be >= 1");
        _space = space;
        _defaultPoints = defaultGridPoints;
        _values = new double[space.Count][];
        long size = 1;
        for (int i = 0; i < space.Count; i++)
        {
            _values[i] = GridValues(i);
            size *= _values[i].Length;
            if (size > int.MaxValue) throw new ArgumentException("the grid has more than 2^31 points; lower grid_points");
        }
        Size = (int)size;
    }

    /// <summary>Number of points in the grid (trials it proposes).</summary>
    public int Size { get; }

    /// <summary>The grid values of parameter <paramref name="index"/>, in the order they are visited.</summary>
    public IReadOnlyList<double> Values(int index) => _values[index];

    public double[]? Suggest(int trialNumber)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(trialNumber);
        if (trialNumber >= Size) return null;
        var point = new double[_values.Length];
        int rest = trialNumber;
        for (int i = _values.Length - 1; i >= 0; i--)
        {
            point[i] = _values[i][rest % _values[i].Length];
            rest /= _values[i].Length;
        }
        return point;
    }

    /// <summary>Results do not change a grid.</summary>
    public void Observe(int trialNumber, double? loss) => ArgumentOutOfRangeException.ThrowIfNegative(trialNumber);

    public string SaveState() => StateJson.Write(new State
    {
        Algorithm = AlgorithmName,
        Version = StateJson.Version,
        Seed = 0,
        Parameters = _space.Signature(),
        Size = Size,
    });

    /// <summary>A grid continuing from <paramref name="state"/>; throws <see cref="SearchStateException"/> if it does not fit.</summary>
    public static GridSearcher Restore(SearchSpace space, int defaultGridPoints, string state)
    {
        var grid = new GridSearcher(space, defaultGridPoints);
        var saved = StateJson.Read<State>(state, AlgorithmName, space.Signature(), seed: null);
        if (saved.Size != grid.Size)
            throw new SearchStateException($"grid state was saved for a grid of {saved.Size} points, the spec now gives {grid.Size}");
        return grid;
    }

    private double[] GridValues(int index)
    {
        var p = _space.Parameters[index];
        var kind = _space.Kind(index);
        if (kind == ParameterKind.Categorical)
        {
            var choices = new double[_space.Choices(index)];
            for (int c = 0; c < choices.Length; c++) choices[c] = c;
            return choices;
        }
        int n = p.GridPoints ?? _defaultPoints;
        if (n < 1) throw new ArgumentException($"parameter '{p.Name}': grid_points must be >= 1, got {n}");
        double low = _space.Low(index), high = _space.High(index);
        var values = new List<double>(n);
        for (int k = 0; k < n; k++)
        {
            // One point sits in the middle of the range; more include both ends, set exactly (exp(log(max)) and
            // low + (high - low) need not give max back bit for bit).
            double value = n == 1 ? _space.FromModel(index, (low + high) / 2)
                : k == 0 ? _space.Clamp(index, p.Min!.Value)
                : k == n - 1 ? _space.Clamp(index, p.Max!.Value)
                : _space.FromModel(index, low + (high - low) * k / (n - 1));
            if (values.Count == 0 || values[^1] != value) values.Add(value);
        }
        return [.. values];
    }

    private sealed record State : StateJson.IState
    {
        public required string Algorithm { get; init; }
        public required int Version { get; init; }
        public required int Seed { get; init; }
        public required string[]? Parameters { get; init; }
        public required int Size { get; init; }
    }
}
