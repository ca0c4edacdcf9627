// Stage I: the coarse provenance graph, built from the trace's events alone.
//
// `CoarseGraphBuilder.build(events:...)` is a pure function of the event sequence (all
// tasks merged by global sequence number). It replays what the kernel did to descriptor
// tables, working directories and user ids, and turns each syscall into edges:
//
//   read/pread/readv/recv/getdents     object -> process        (used)
//   write/pwrite/writev/send           process -> object        (wasGeneratedBy)
//   sendfile/splice/tee/copy_file_range  in -> process -> out
//   mmap                               file -> process; shared writable: process -> file
//   fork/vfork/clone                   parent -> child          (wasInformedBy)
//   execve                             old image -> new image, binary -> new image
//   open/creat                         file -> process, or process -> file when it
//                                      creates or truncates
//   rename/link/symlink/unlink/mknod/chmod/chown/truncate
//                                      process -> new version of the file
//   setuid family                      process -> new version of itself, user agent
//   kill, process_vm_writev, wait4     between processes
//   connect/accept/bind                process -> socket; a connect matched with the accept
//                                      that took it lets data cross from one end to the other
//   close, dup family, failed calls    kept with carriesFlow == false
//
// Versions (see Model.swift): an edge into a node that already has outgoing flow makes a
// new version of the target first, unless the same source already flows into it.

import Trace
import Syscalls

public enum CoarseGraphBuilder {
    /// Builds the graph from a whole trace directory. Stream damage does not stop the
    /// build: the intact prefix is used and the errors are kept in `origin.warnings`.
    public static func build(trace: TraceReader) -> ProvenanceGraph {
        let (events, errors) = trace.allEvents()
        let origin = GraphOrigin(startTime: trace.header.startTime, command: trace.header.argv.joined(separator: " "),
                                 traceDirectory: trace.directory, warnings: errors.map(\.description))
        return build(events: events, origin: origin, rootUID: trace.header.uid, rootGID: trace.header.gid,
                     rootDirectory: trace.header.cwd)
    }

    /// Builds the graph from events in global sequence order.
    /// - Parameters:
    ///   - rootUID: the user the recorded command ran as (the trace header's uid).
    ///   - rootDirectory: its working directory, for relative paths before any chdir.
    public static func build(events: [TraceEvent], origin: GraphOrigin = GraphOrigin(), rootUID: UInt32 = 0,
                             rootGID: UInt32 = 0, rootDirectory: String = "/") -> ProvenanceGraph {
        buildWithPlacements(events: events, origin: origin, rootUID: rootUID, rootGID: rootGID,
                            rootDirectory: rootDirectory).graph
    }

    /// Builds the graph from a whole trace directory, with the event placements and replay
    /// units the refinement maps taint summaries through (see EventPlacement.swift).
    public static func buildWithPlacements(trace: TraceReader) -> CoarseBuild {
        let (events, errors) = trace.allEvents()
        let origin = GraphOrigin(startTime: trace.header.startTime, command: trace.header.argv.joined(separator: " "),
                                 traceDirectory: trace.directory, warnings: errors.map(\.description))
        return buildWithPlacements(events: events, origin: origin, rootUID: trace.header.uid, rootGID: trace.header.gid,
                                   rootDirectory: trace.header.cwd)
    }

    /// Builds the graph from events in global sequence order, with every content,
    /// metadata, mapping, copy and generating event placed on its object version.
    public static func buildWithPlacements(events: [TraceEvent], origin: GraphOrigin = GraphOrigin(), rootUID: UInt32 = 0,
                                           rootGID: UInt32 = 0, rootDirectory: String = "/") -> CoarseBuild {
        let state = BuilderState(origin: origin, rootUID: rootUID, rootGID: rootGID, rootDirectory: rootDirectory)
        for event in effectOrder(events) { state.handle(event) }
        let graph = state.finish()
        return CoarseBuild(graph: graph, placements: state.placements, units: state.units, processUnits: state.processUnit)
    }
}

extension CoarseGraphBuilder {
    /// `events` in the order their effects happened. An event is stamped when the
    /// recorder sees the syscall exit, but a syscall that hands bytes to the kernel (a
    /// write or send, a kernel copy) delivers them between entry and exit: a reader of the
    /// pipe or socket may return them, and be stamped, before the writer's exit is. Such
    /// syscalls take their entry stamp, so the read lands on the version the write made;
    /// everything else keeps its own. Stable: ties keep the recorded order. Cost: a sort.
    static func effectOrder(_ events: [TraceEvent]) -> [TraceEvent] {
        func key(_ e: TraceEvent) -> UInt64 {
            if case .syscall(let s) = e.body {
                let flow = SyscallTable.spec(s.number).flow
                if (flow == .contentSink || flow == .kernelCopy) && s.entrySequence > 0 && s.entrySequence < e.sequence {
                    return s.entrySequence
                }
            }
            return e.sequence
        }
        return events.enumerated().sorted { (key($0.element), $0.offset) < (key($1.element), $1.offset) }.map(\.element)
    }
}

/// Where and when one event happened, for stamping edges and nodes.
struct EventContext {
    var sequence: UInt64
    var time: UInt64
    var tid: Int32
    /// The call's paths may have resolved to other objects than the ones named
    /// (`SyscallFlags.pathRaced`): its edges carry the attribute `pathRaced`.
    var pathRaced = false
}

/// Something the graph has versions of: a task, a file, a pipe, a socket, a user.
struct EntityState {
    var key: String
    var kind: NodeKind
    var label: String
    var path: String = ""
    var current: Int?
    var versions = 0
    var nodes: [Int] = []
    /// Carried into every new version (process pid/exe/argv/uid, socket addresses...).
    var attributes: [String: AttributeValue] = [:]
    /// A connected socket's other end: what this end receives, the peer sent.
    var peer: Int?
    /// The identity is a placeholder ("pipe@SEQ", "fd:N", "path:/x") until an object
    /// in the trace names the real one.
    var provisional = false
    var unlinked = false
}

/// The builder's view of one task.
final class TaskState {
    let tid: Int32
    var pid: Int32
    let entity: Int
    var descriptors: DescriptorTable
    var directory: String
    var uid: UInt32
    var gid: UInt32
    /// The last event of this task was an ExecSnapshot (its execve exit follows).
    var justExecedFromSnapshot = false
    /// An execve exit created the new image before its snapshot arrived.
    var imageFromSyscall = false

    init(tid: Int32, pid: Int32, entity: Int, descriptors: DescriptorTable, directory: String, uid: UInt32, gid: UInt32) {
        self.tid = tid; self.pid = pid; self.entity = entity; self.descriptors = descriptors
        self.directory = directory; self.uid = uid; self.gid = gid
    }
}

final class BuilderState {
    var graph: ProvenanceGraph
    var entities: [EntityState] = []
    var entityByKey: [String: Int] = [:]
    /// The entity the builder believes is at each absolute path now.
    var entityAtPath: [String: Int] = [:]
    var tasks: [Int32: TaskState] = [:]
    /// Process entity (its main thread) by pid, kept after exit for wait4 and kill.
    var processByPID: [Int32: Int] = [:]
    /// The exit or exit_group event whose argument became each process entity's exit
    /// status (absent when a signal ended it): a `wait4` edge names it as `exitEvent`, the
    /// sink the refinement composes the status through.
    var exitStatusEvent: [Int: UInt64] = [:]
    var taskEntityByTID: [Int32: Int] = [:]
    /// Tasks alive in each process entity that has more than its first thread.
    var liveThreads: [Int: Int] = [:]

    // Shared memory (SharedMemory.swift).
    /// Shared mappings by address space (process entity).
    var sharedMappings: [Int: [SharedMapping]] = [:]
    /// The address spaces that map each object shared.
    var mappersOf: [Int: Set<Int>] = [:]
    /// (space, object) -> the space's node whose stores the object has; (object, space) ->
    /// the object's node the space has loaded.
    var sharedStores: [Pair: Int] = [:]
    var sharedLoads: [Pair: Int] = [:]
    var sharedSegmentSize: [Int: UInt64] = [:]
    var syncingSharedMemory = false
    /// The last event handled (for stores made at the end of the trace).
    var lastSequence: UInt64 = 0
    var lastTime: UInt64 = 0
    /// Sockets bound to an address, by entity, with their local address.
    var listeners: [Int: String] = [:]
    /// Connects not yet matched with an accept: (client socket entity, target address).
    var pendingConnects: [(socket: Int, address: String)] = []

    /// Accepts recorded before the connect they took (the supervisor may see the
    /// server's accept return before the client's connect): (accepted socket, address).
    var pendingAccepts: [(socket: Int, address: String)] = []

    /// Bytes written into and read out of each channel (pipe, connected socket end).
    var channelWritten: [Int: Int64] = [:]
    var channelRead: [Int: Int64] = [:]
    /// Reads of data whose write the trace has not shown yet, by reading task entity. The
    /// kernel completes a write before the reader wakes, but the supervisor may see the
    /// reader's syscall exit (and even its next syscalls) first; the edge waits for the
    /// write, or at the latest until the reader passes information on.
    struct PendingRead {
        var source: Int, reader: Int, operation: String, bytes: Int64, context: EventContext
        /// Where the read's bytes lie (computed at the read, placed when the edge is made).
        var stream: Int, streamOffset: Int64?, unit: Int
    }
    var pendingReads: [Int: [PendingRead]] = [:]

    // Flow bookkeeping per node.
    var hasFlowOutput: [Bool] = []
    var hasFlowInput: [Bool] = []
    /// The process (entity) whose output is all a node holds (a file it created and wrote,
    /// a pipe only it wrote), or -1. Reading such a node back tells the process nothing new
    /// (every version of it descends from the versions that wrote): assemblers and linkers
    /// write, read back and rewrite their output, which would otherwise make a new version
    /// of both at every turn.
    var ownedBy: [Int] = []
    /// The builder entity of each node.
    var entityOfNode: [Int] = []
    var incidentEdges: [Int] = []
    struct Pair: Hashable { var source: Int, target: Int }
    var flowPairs = Set<Pair>()
    struct EdgeKey: Hashable { var source: Int, target: Int, operation: String, failed: Bool, flow: Bool }
    var edgeByKey: [EdgeKey: Int] = [:]

    let rootUID: UInt32, rootGID: UInt32, rootDirectory: String
    var syntheticCounter = 0

    // Event coordinates (EventPlacement.swift).
    var placements: [EventPlacement] = []
    var units: [ReplayUnitInfo] = []
    /// The unit each process (pid) is running now.
    var currentUnit: [Int32: Int] = [:]
    /// The unit each process node belongs to (absent: none).
    var processUnit: [Int: Int] = [:]
    /// Bytes written into and read out of each byte stream so far. Stream ids are entity
    /// indices; `receivedStream(e)` names what an outside peer sent to entity e.
    var streamWritten: [Int: Int64] = [:]
    var streamRead: [Int: Int64] = [:]
    /// Streams whose positions are no longer known (a recvmmsg/sendmmsg counts messages).
    var lostStreams = Set<Int>()
    /// The priority of the first message sent to each POSIX queue (one priority: FIFO).
    var queuePriority: [Int: Int64] = [:]
    /// File sizes the trace lets us know (created or truncated in it, stat, lseek SEEK_END).
    var fileSize: [Int: Int64] = [:]

    init(origin: GraphOrigin, rootUID: UInt32, rootGID: UInt32, rootDirectory: String) {
        graph = ProvenanceGraph(origin: origin)
        self.rootUID = rootUID; self.rootGID = rootGID; self.rootDirectory = rootDirectory
    }

    func finish() -> ProvenanceGraph {
        for reader in pendingReads.keys.sorted() { flushPendingReads(reader: reader) }
        flushSharedMappings()
        return graph
    }

    func flushPendingReads(reader: Int) {
        guard let reads = pendingReads.removeValue(forKey: reader) else { return }
        for r in reads {
            let edge = flow(from: r.source, to: r.reader, r.operation, r.context, bytes: r.bytes)
            place(edge, .contentIn, stream: r.stream, offset: r.streamOffset, length: r.bytes, r.context,
                  operation: r.operation, unit: r.unit)
        }
    }

    /// After a write into `channel`: the reads that were waiting for it.
    func flushPendingReads(from channel: Int) {
        for reader in pendingReads.keys.sorted() where pendingReads[reader]?.contains(where: { $0.source == channel }) == true {
            flushPendingReads(reader: reader)
        }
    }

    // MARK: Events

    func handle(_ event: TraceEvent) {
        var context = EventContext(sequence: event.sequence, time: event.time, tid: event.tid)
        if case .syscall(let call) = event.body, call.flags.contains(.pathRaced) { context.pathRaced = true }
        lastSequence = event.sequence
        lastTime = event.time
        switch event.body {
        case .taskStart(let start):
            taskStarted(start, context)
        case .exec(let snapshot):
            let task = task(event.tid, context)
            // The unit starts first so that the image's new process node belongs to it.
            startUnit(pid: task.pid, tid: event.tid, context, executable: snapshot.path, forked: false)
            execSnapshot(snapshot, task: task, context)
            // A node the exec updated in place (nothing had touched it) is the new image too.
            if let node = entities[task.entity].current { processUnit[node] = units.count - 1 }
            task.justExecedFromSnapshot = true
            return
        case .syscall(let call):
            let task = task(event.tid, context)
            // exit and exit_group never return: their status is what a wait4 will report.
            if SyscallTable.spec(call.number).flow == .statusSink { exitStatusEvent[task.entity] = context.sequence }
            if !call.flags.contains(.unfinished) { syscall(call, task: task, context) }
            task.justExecedFromSnapshot = false
        case .taskExit(let exit):
            taskExited(exit, context)
        case .signal, .timestamp, .schedule:
            break
        }
        tasks[event.tid]?.justExecedFromSnapshot = false
    }

    func task(_ tid: Int32, _ context: EventContext) -> TaskState {
        if let t = tasks[tid] { return t }
        // A task the trace never announced: treat it as a root.
        return startTask(tid: tid, pid: tid, parent: nil, kind: .root, cloneFlags: 0, context)
    }

    func taskStarted(_ start: TaskStart, _ context: EventContext) {
        let parent = start.parent != 0 ? tasks[start.parent] : nil
        _ = startTask(tid: start.tid, pid: start.pid, parent: parent, kind: parent == nil ? .root : start.kind,
                      cloneFlags: start.cloneFlags, context)
        if start.parent != 0 && (start.kind == .fork || start.kind == .vfork) {
            // A child forked without exec is a replay unit of its own, running its parent's program.
            let parentPID = parent?.pid ?? start.parent
            let program = currentUnit[parentPID].map { units[$0].executable } ?? ""
            startUnit(pid: start.pid, tid: start.tid, context, executable: program, forked: true)
            if let child = tasks[start.tid], let node = entities[child.entity].current {
                processUnit[node] = units.count - 1
            }
        }
    }

    func startUnit(pid: Int32, tid: Int32, _ context: EventContext, executable: String, forked: Bool) {
        units.append(ReplayUnitInfo(pid: pid, tid: tid, startSequence: context.sequence, executable: executable,
                                    forked: forked))
        currentUnit[pid] = units.count - 1
    }

    /// The replay unit a task's event belongs to now, -1 for none.
    func unit(of tid: Int32) -> Int {
        guard let pid = tasks[tid]?.pid else { return -1 }
        return currentUnit[pid] ?? -1
    }

    /// Records where the bytes of the event that made `edge` lie. The edge's process end
    /// is the caller; its other end is the object version.
    func place(_ edge: Int, _ role: PlacementRole, stream: Int, offset: Int64?, length: Int64, _ context: EventContext,
               operation: String, unit: Int? = nil) {
        let e = graph.edges[edge]
        let (process, object) = role.isInput ? (e.target, e.source) : (e.source, e.target)
        guard graph.nodes[process].kind == .process, graph.nodes[object].kind != .process else { return }
        placements.append(EventPlacement(sequence: context.sequence, tid: context.tid, unit: unit ?? self.unit(of: context.tid),
                                         process: process, object: object, role: role, stream: stream, offset: offset,
                                         length: length, operation: operation))
    }

    static let cloneFiles: UInt64 = 0x400

    func startTask(tid: Int32, pid: Int32, parent: TaskState?, kind: TaskStart.Kind, cloneFlags: UInt64,
                   _ context: EventContext) -> TaskState {
        if let parent, kind == .thread { return startThread(tid: tid, pid: pid, parent: parent, context) }
        var attributes: [String: AttributeValue] = [:]
        if let parent { attributes = entities[parent.entity].attributes }
        attributes["pid"] = .int(Int64(pid))
        attributes["tid"] = .int(Int64(tid))
        if kind == .thread { attributes["thread"] = .bool(true) } else { attributes["thread"] = nil }
        let entity = newEntity(key: "task:\(tid)@\(context.sequence)", kind: .process, label: "", attributes: attributes)
        let descriptors: DescriptorTable
        if let parent {
            // clone3 passes a pointer where clone passes flags: only a 32-bit value is flags.
            let sharesFiles = cloneFlags <= 0xffff_ffff && cloneFlags & Self.cloneFiles != 0
            descriptors = kind == .thread || sharesFiles ? parent.descriptors : parent.descriptors.copy()
        } else {
            descriptors = DescriptorTable()
        }
        let task = TaskState(tid: tid, pid: pid, entity: entity, descriptors: descriptors,
                             directory: parent?.directory ?? rootDirectory, uid: parent?.uid ?? rootUID,
                             gid: parent?.gid ?? rootGID)
        entities[entity].attributes["cwd"] = .string(task.directory)
        entities[entity].attributes["uid"] = .int(Int64(task.uid))
        relabelProcess(entity)
        tasks[tid] = task
        taskEntityByTID[tid] = entity
        if tid == pid { processByPID[pid] = entity }
        _ = node(of: entity, context)
        if let parent {
            let operation: String
            switch kind {
            case .thread: operation = "clone"
            case .vfork: operation = "vfork"
            default: operation = "fork"
            }
            flow(from: parent.entity, to: entity, operation, context)
            inheritSharedMappings(from: parent.entity, to: entity)
        } else {
            associate(task: task, context)
        }
        return task
    }

    /// A thread shares its process's address space, so it is no entity of its own: what
    /// any thread reads may reach every later output of every thread, and the process
    /// entity (one node per version of the address space) is the unit flow goes through.
    /// Versions keep the time order: a write made before another thread's read is on an
    /// earlier version than the read's. The thread is named by the `tid` of each edge it
    /// makes, and its creation by a `clone` annotation on the process.
    func startThread(tid: Int32, pid: Int32, parent: TaskState, _ context: EventContext) -> TaskState {
        let task = TaskState(tid: tid, pid: pid, entity: parent.entity, descriptors: parent.descriptors,
                             directory: parent.directory, uid: parent.uid, gid: parent.gid)
        tasks[tid] = task
        taskEntityByTID[tid] = parent.entity
        liveThreads[parent.entity, default: 1] += 1
        annotate(from: parent.entity, to: parent.entity, "clone", context, attributes: ["thread": .int(Int64(tid))])
        return task
    }

    func taskExited(_ exit: TaskExit, _ context: EventContext) {
        guard let task = tasks[context.tid] else { return }
        if exit.signal != nil { exitStatusEvent[task.entity] = nil }
        defer { tasks[context.tid] = nil }
        // A thread's exit ends the address space only when it was the last one in it.
        if let live = liveThreads[task.entity] {
            if live > 1 { liveThreads[task.entity] = live - 1; return }
            liveThreads[task.entity] = nil
        }
        addressSpaceEnded(task.entity, context)
        if let node = entities[task.entity].current {
            graph.updateNode(node) { n in
                n.endTime = context.time
                if let code = exit.exitCode { n.attributes["exitCode"] = .int(Int64(code)) }
                if let signal = exit.signal { n.attributes["exitSignal"] = .int(Int64(signal)) }
            }
        }
    }

    /// The user a task acts for, as a PROV agent (no flow: every process of a user would
    /// otherwise be each other's lineage).
    func associate(task: TaskState, _ context: EventContext, operation: String = "run as") {
        let agent = agentEntity(uid: task.uid)
        annotate(from: agent, to: task.entity, operation, context, relation: .wasAssociatedWith)
    }

    func agentEntity(uid: UInt32) -> Int {
        lookupOrCreate(key: "agent:\(uid)", kind: .agent, label: uid == 0 ? "root (uid 0)" : "uid \(uid)",
                       attributes: ["uid": .int(Int64(uid))])
    }

    func relabelProcess(_ entity: Int) {
        let a = entities[entity].attributes
        let exe = a["exe"]?.stringValue ?? ""
        let pid = a["pid"]?.intValue ?? 0, tid = a["tid"]?.intValue ?? 0
        let id = pid == tid ? "\(pid)" : "\(pid)/\(tid)"
        // The recorded command's first task has run no program yet (it is magprov's fork
        // child, about to exec): it has no name to give.
        guard !exe.isEmpty else { entities[entity].label = "\(id) (before exec)"; return }
        let name = String(exe.split(separator: "/").last ?? Substring(exe))
        entities[entity].label = "\(name)[\(id)]"
    }

    // MARK: Entities and nodes

    func newEntity(key: String, kind: NodeKind, label: String, path: String = "",
                   attributes: [String: AttributeValue] = [:], provisional: Bool = false) -> Int {
        var e = EntityState(key: key, kind: kind, label: label)
        e.path = path
        e.attributes = attributes
        e.provisional = provisional
        entities.append(e)
        entityByKey[key] = entities.count - 1
        if !path.isEmpty { entityAtPath[path] = entities.count - 1 }
        return entities.count - 1
    }

    func lookupOrCreate(key: String, kind: NodeKind, label: String, path: String = "",
                        attributes: [String: AttributeValue] = [:]) -> Int {
        if let e = entityByKey[key] { return e }
        return newEntity(key: key, kind: kind, label: label, path: path, attributes: attributes)
    }

    func syntheticKey(_ prefix: String, _ context: EventContext) -> String {
        syntheticCounter += 1
        return "\(prefix)@\(context.sequence).\(syntheticCounter)"
    }

    /// Gives a provisional entity its real identity.
    func rekey(_ entity: Int, to key: String) {
        entityByKey[entities[entity].key] = nil
        entities[entity].key = key
        entities[entity].provisional = false
        entityByKey[key] = entity
        for n in entities[entity].nodes { graph.updateNode(n) { $0.entity = key } }
    }

    /// The entity's current node, created (version 1) if it has none yet.
    func node(of entity: Int, _ context: EventContext) -> Int {
        if let n = entities[entity].current { return n }
        return newNode(of: entity, context)
    }

    func newNode(of entity: Int, _ context: EventContext) -> Int {
        let e = entities[entity]
        if let previous = e.current { graph.updateNode(previous) { $0.endTime = context.time } }
        let version = e.versions + 1
        var attributes = e.attributes
        if e.unlinked { attributes["unlinked"] = .bool(true) }
        let isSystem = (e.kind == .file || e.kind == .other) && SystemFiles.isSystem(path: e.path)
        let id = graph.addNode(kind: e.kind, entity: e.key, version: version, label: e.label, path: e.path,
                               startTime: context.time, isSystem: isSystem, attributes: attributes)
        if e.kind == .process, let tid = e.attributes["tid"]?.intValue, let unit = currentUnit[tasks[Int32(truncatingIfNeeded: tid)]?.pid ?? Int32(truncatingIfNeeded: tid)] {
            processUnit[id] = unit
        }
        hasFlowOutput.append(false)
        hasFlowInput.append(false)
        ownedBy.append(-1)
        entityOfNode.append(entity)
        incidentEdges.append(0)
        entities[entity].versions = version
        entities[entity].current = id
        entities[entity].nodes.append(id)
        return id
    }

    /// Starts a new version of `entity` linked from the previous one by a flow edge, or
    /// updates the current node in place when nothing has touched it yet.
    @discardableResult
    func newVersion(of entity: Int, _ operation: String, _ context: EventContext) -> Int {
        guard let old = entities[entity].current, incidentEdges[old] > 0 || hasFlowOutput[old] else {
            let n = node(of: entity, context)
            refreshNode(entity)
            return n
        }
        let new = newNode(of: entity, context)
        let relation: Relation = entities[entity].kind.isActivity ? .wasInformedBy : .wasDerivedFrom
        addEdge(from: old, to: new, operation, context, relation: relation, flow: true)
        return new
    }

    /// Copies the entity's attributes, label and path into its current node.
    func refreshNode(_ entity: Int) {
        guard let n = entities[entity].current else { return }
        let e = entities[entity]
        graph.updateNode(n) { node in
            node.attributes = e.attributes
            if e.unlinked { node.attributes["unlinked"] = .bool(true) }
            node.label = e.label
            node.path = e.path
            node.isSystem = (e.kind == .file || e.kind == .other) && SystemFiles.isSystem(path: e.path)
        }
    }

    // MARK: Edges

    /// Records information flowing from `source` to `target` (entities). Makes a new
    /// version of the target when it already has outgoing flow (or when `newVersion` asks,
    /// for changes that give the target new attributes), so flow edges stay acyclic.
    /// `fresh`: the edge creates the target's content from nothing (creat, O_TRUNC, pipe).
    @discardableResult
    func flow(from source: Int, to target: Int, _ operation: String, _ context: EventContext,
              bytes: Int64 = 0, offset: Int64? = nil, relation: Relation? = nil, newVersion force: Bool = false,
              fresh: Bool = false, attributes: [String: AttributeValue] = [:],
              change: ((inout EntityState) -> Void)? = nil) -> Int {
        if source == target {
            return annotate(from: source, to: target, operation, context, attributes: attributes)
        }
        // What a process read must reach it before anything it passes on.
        if !pendingReads.isEmpty && pendingReads[source] != nil { flushPendingReads(reader: source) }
        // ... and so must what it loaded from shared memory, or what was stored into it.
        if !mappersOf.isEmpty && !syncingSharedMemory { syncSharedMemory(before: source, context) }
        let s = node(of: source, context)
        var t = node(of: target, context)
        if !force && entities[target].kind == .process && entities[source].kind != .process && ownedBy[s] == target {
            var a = attributes
            a["ownOutput"] = .bool(true)
            return annotate(from: source, to: target, operation, context, attributes: a)
        }
        if let change { change(&entities[target]) }
        if force {
            t = newVersion(of: target, "version", context)
        } else if !flowPairs.contains(Pair(source: s, target: t)) && hasFlowOutput[t] {
            t = newVersion(of: target, "version", context)
        } else if change != nil {
            refreshNode(target)
        }
        let r = relation ?? Relation.between(entities[source].kind, entities[target].kind)
        return addEdge(from: s, to: t, operation, context, relation: r, flow: true, bytes: bytes, offset: offset,
                       fresh: fresh, attributes: attributes)
    }

    /// Records an edge that carries no flow (close, dup, a failed call, an association).
    @discardableResult
    func annotate(from source: Int, to target: Int, _ operation: String, _ context: EventContext,
                  relation: Relation = .wasInfluencedBy, errno: Int32 = 0,
                  attributes: [String: AttributeValue] = [:]) -> Int {
        let s = node(of: source, context), t = node(of: target, context)
        return addEdge(from: s, to: t, operation, context, relation: relation, flow: false, errno: errno,
                       attributes: attributes)
    }

    @discardableResult
    func addEdge(from s: Int, to t: Int, _ operation: String, _ context: EventContext, relation: Relation,
                 flow: Bool, errno: Int32 = 0, bytes: Int64 = 0, offset: Int64? = nil, fresh: Bool = false,
                 attributes: [String: AttributeValue] = [:]) -> Int {
        let failed = errno != 0
        var attributes = attributes
        if context.pathRaced { attributes["pathRaced"] = .bool(true) }
        if flow && !failed && graph.nodes[s].kind == .process && graph.nodes[t].kind != .process && graph.nodes[t].kind != .agent {
            // Every event that changes an object is an output event of the process.
            placements.append(EventPlacement(sequence: context.sequence, tid: context.tid, unit: unit(of: context.tid),
                                             process: s, object: t, role: .generated, stream: entityOfNode[t],
                                             offset: nil, length: 0, operation: operation))
        }
        let key = EdgeKey(source: s, target: t, operation: operation, failed: failed, flow: flow)
        let end = offset.map { $0 + max(bytes, 0) }
        if let existing = edgeByKey[key] {
            graph.updateEdge(existing) { e in
                e.calls += 1
                e.bytes += max(bytes, 0)
                e.lastTime = context.time
                if let offset, let end {
                    e.offsetLow = min(e.offsetLow ?? offset, offset)
                    e.offsetHigh = max(e.offsetHigh ?? end, end)
                }
                for (k, v) in attributes where e.attributes[k] == nil { e.attributes[k] = v }
                // One raced call among the aggregated ones makes the edge uncertain.
                if context.pathRaced { e.attributes["pathRaced"] = .bool(true) }
            }
            return existing
        }
        var a = attributes
        if failed { a["errnoName"] = .string(ErrnoName.of(errno)) }
        let id = graph.addEdge(Edge(id: 0, source: s, target: t, relation: relation, operation: operation,
                                    carriesFlow: flow && !failed, failed: failed, errno: errno,
                                    firstTime: context.time, lastTime: context.time, sequence: context.sequence,
                                    tid: context.tid, bytes: max(bytes, 0), offsetLow: offset, offsetHigh: end,
                                    attributes: a))
        edgeByKey[key] = id
        if relation != .wasAssociatedWith {
            // Associations do not count: the root process is "touched" only by what it does.
            incidentEdges[s] += 1
            incidentEdges[t] += 1
        }
        if flow && !failed {
            let contributor = graph.nodes[s].kind == .process ? entityOfNode[s] : ownedBy[s]
            if operation == "version" && graph.nodes[s].entity == graph.nodes[t].entity {
                ownedBy[t] = ownedBy[s]
            } else if !hasFlowInput[t] {
                ownedBy[t] = fresh ? contributor : -1
            } else if ownedBy[t] != contributor {
                ownedBy[t] = -1
            }
            hasFlowInput[t] = true
            hasFlowOutput[s] = true
            flowPairs.insert(Pair(source: s, target: t))
        }
        return id
    }

    /// A failed call: an edge in the direction the successful call's edge would have had.
    func failure(from source: Int, to target: Int, _ operation: String, _ errno: Int32, _ context: EventContext,
                 attributes: [String: AttributeValue] = [:]) {
        annotate(from: source, to: target, operation, context, errno: errno, attributes: attributes)
    }

    /// A failed call that names no object: counted on the process node.
    func failureWithoutObject(_ task: TaskState, _ operation: String, _ errno: Int32, _ context: EventContext) {
        let n = node(of: task.entity, context)
        let key = "failed.\(operation).\(ErrnoName.of(errno))"
        graph.updateNode(n) { $0.attributes[key] = .int(($0.attributes[key]?.intValue ?? 0) + 1) }
    }
}
