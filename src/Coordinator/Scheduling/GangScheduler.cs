using System.Diagnostics;

namespace Orchestrator.Coordinator.Scheduling;

/// <summary>
/// Places trial attempts on workers all or nothing: a request for K workers starts only when K distinct available
/// workers each have a free slot (and enough devices), and then takes one slot on each at once, so no partial gang
/// ever holds slots and two gangs can never wait on each other.
/// </summary>
/// <remarks>
/// Order is FIFO with bounded backfill. The oldest request that cannot start yet (the head) lets later, smaller
/// requests use the free slots, but only <c>maxBackfill</c> times; after that every freed slot waits for the head, so
/// it starts as soon as running work releases enough workers. A request that can never fit (more workers than the
/// cluster has) is skipped and holds nothing.
/// </remarks>
public sealed class GangScheduler(int maxBackfill)
{
    private readonly Dictionary<string, WorkerSlots> _workers = new(StringComparer.Ordinal);
    private readonly List<Waiting> _queue = [];
    private readonly Dictionary<string, string> _occupiedBy = new(StringComparer.Ordinal);

    public int QueueLength => _queue.Count;

    public IEnumerable<GangRequest> Queue => _queue.Select(w => w.Request);

    /// <summary>Adds or updates a worker; slots it already holds stay held.</summary>
    public void UpsertWorker(string workerId, int slots, int devices, bool available)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(slots, 0);
        if (!_workers.TryGetValue(workerId, out var worker))
            _workers[workerId] = worker = new WorkerSlots(workerId);
        worker.Slots = slots;
        worker.Devices = devices;
        worker.Available = available;
    }

    /// <summary>A worker that is temporarily unreachable keeps its slots but receives nothing new.</summary>
    public void SetAvailable(string workerId, bool available)
    {
        if (_workers.TryGetValue(workerId, out var worker)) worker.Available = available;
    }

    /// <summary>Forgets a worker and frees its slots; returns the members that held them.</summary>
    public IReadOnlyList<string> RemoveWorker(string workerId)
    {
        if (!_workers.Remove(workerId, out var worker)) return [];
        foreach (var member in worker.Members.Keys) _occupiedBy.Remove(member);
        return worker.Members.Keys.ToList();
    }

    /// <summary>Workers known (available or within their lease) with at least <paramref name="devices"/> devices.</summary>
    public int ClusterSize(int devices) => _workers.Values.Count(w => w.Devices >= devices && w.Slots > 0);

    /// <summary>Slots of available workers: free and held, and how many such workers there are (for metrics).</summary>
    public (int Free, int Busy, int Workers) Capacity()
    {
        int free = 0, busy = 0, workers = 0;
        foreach (var worker in _workers.Values)
        {
            if (!worker.Available) continue;
            workers++;
            free += worker.Free;
            busy += worker.Members.Count;
        }
        return (free, busy, workers);
    }

    public int FreeSlots(string workerId) => _workers.TryGetValue(workerId, out var w) ? w.Free : 0;

    /// <summary>Queues a request; false when one for the same trial is already queued.</summary>
    public bool Enqueue(GangRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (_queue.Any(w => w.Request.Key == request.Key)) return false;
        _queue.Add(new Waiting(request));
        return true;
    }

    /// <summary>Drops the queued request of a trial; false when none was queued.</summary>
    public bool Withdraw(string key) => _queue.RemoveAll(w => w.Request.Key == key) > 0;

    /// <summary>
    /// Marks a slot of <paramref name="workerId"/> as held by <paramref name="memberId"/> (a re-attached member): slot
    /// <paramref name="slot"/> when given and free, else the lowest free one. Returns the slot, or -1 when the worker is unknown.
    /// </summary>
    public int Occupy(string workerId, string memberId, int? slot = null)
    {
        if (!_workers.TryGetValue(workerId, out var worker)) return -1;
        if (_occupiedBy.ContainsKey(memberId)) return worker.Members.GetValueOrDefault(memberId, -1);
        var taken = worker.Members.Values.ToHashSet();
        int index = slot is { } s && s >= 0 && !taken.Contains(s) ? s : 0;
        if (slot is null || index != slot) while (taken.Contains(index)) index++;
        worker.Members[memberId] = index;
        _occupiedBy[memberId] = workerId;
        return index;
    }

    /// <summary>The slot a member holds on its worker, or -1.</summary>
    public int SlotOf(string memberId) =>
        _occupiedBy.TryGetValue(memberId, out var workerId) && _workers.TryGetValue(workerId, out var worker) ? worker.Members.GetValueOrDefault(memberId, -1) : -1;

    /// <summary>Frees the slot a member held; false when it held none (already released, or its worker is gone).</summary>
    public bool Release(string memberId)
    {
        if (!_occupiedBy.Remove(memberId, out var workerId)) return false;
        if (_workers.TryGetValue(workerId, out var worker)) worker.Members.Remove(memberId);
        return true;
    }

    /// <summary>
    /// Starts every request that can start now, in queue order with bounded backfill, taking their slots; each
    /// placement lists its workers by rank.
    /// </summary>
    public IReadOnlyList<Placement> Schedule()
    {
        var placements = new List<Placement>();
        Waiting? head = null;
        for (var i = 0; i < _queue.Count;)
        {
            var waiting = _queue[i];
            var request = waiting.Request;
            if (Eligible(request).Count() < request.Workers)
            {
                // Cannot fit in this cluster at all: it must not hold the queue.
                i++;
                continue;
            }
            var chosen = Choose(request);
            if (chosen is null)
            {
                if (head is null)
                {
                    head = waiting;
                    if (head.Bypassed >= maxBackfill) break;
                }
                i++;
                continue;
            }
            if (head is not null) head.Bypassed++;
            _queue.RemoveAt(i);
            var workers = new string[request.Workers];
            var slots = new int[request.Workers];
            for (var rank = 0; rank < chosen.Count; rank++)
            {
                workers[rank] = chosen[rank].Id;
                slots[rank] = Occupy(chosen[rank].Id, request.MemberId(rank));
            }
            placements.Add(new Placement(request, workers, slots));
            if (head is not null && head.Bypassed >= maxBackfill) break;
        }
        return placements;
    }

    private IEnumerable<WorkerSlots> Eligible(GangRequest request) =>
        _workers.Values.Where(w => w.Available && w.Devices >= request.Devices && w.Slots > 0);

    private List<WorkerSlots>? Choose(GangRequest request)
    {
        // Most free slots first: leaves as many workers as possible with a free slot for later gangs.
        var free = Eligible(request).Where(w => w.Free > 0)
            .OrderByDescending(w => w.Free).ThenBy(w => w.Id, StringComparer.Ordinal)
            .Take(request.Workers).ToList();
        Debug.Assert(free.Select(w => w.Id).Distinct().Count() == free.Count);
        return free.Count == request.Workers ? free : null;
    }

    private sealed class WorkerSlots(string id)
    {
        public string Id { get; } = id;
        public int Slots { get; set; }
        public int Devices { get; set; }
        public bool Available { get; set; }
        /// <summary>Members holding a slot, with the slot's index (which decides the member's collective port).</summary>
        public Dictionary<string, int> Members { get; } = new(StringComparer.Ordinal);
        public int Free => Math.Max(0, Slots - Members.Count);
    }

    private sealed class Waiting(GangRequest request)
    {
        public GangRequest Request { get; } = request;
        /// <summary>How many later requests started while this one was the head.</summary>
        public int Bypassed { get; set; }
    }
}
