// exec: a new process image. The recorder's ExecSnapshot (registers and mappings at the
// exec stop) and the execve exit both arrive; whichever comes first starts the image and
// the other completes it.

import Trace

extension BuilderState {
    func execSnapshot(_ snapshot: ExecSnapshot, task: TaskState, _ context: EventContext) {
        var files: [(entity: Int, path: String)] = []
        var seen = Set<Int>()
        for m in snapshot.mappings where m.inode != 0 && m.path.hasPrefix("/") {
            let o = ObjectIdentity(argument: 0, requested: "", resolved: m.path, device: m.device, inode: m.inode,
                                   mode: FileType.regular)
            guard let e = entity(for: o, fallbackPath: m.path), seen.insert(e).inserted else { continue }
            files.append((e, m.path))
        }
        // The executable: the mapping named like the exec path, else the first file mapped
        // (the kernel maps the binary before its interpreter).
        let exeIndex = files.firstIndex { $0.path == snapshot.path } ?? (files.isEmpty ? nil : 0)
        let exe = exeIndex.map { files[$0].entity }
        let others = files.enumerated().filter { $0.offset != exeIndex }.map(\.element.entity)
        if task.imageFromSyscall {
            // The execve exit already started this image; add what only the snapshot knows.
            task.imageFromSyscall = false
            setImageAttributes(task, path: snapshot.path, argv: snapshot.argv)
            refreshNode(task.entity)
            if let exe { flow(from: exe, to: task.entity, "execve", context) }
        } else {
            beginImage(task, path: snapshot.path, argv: snapshot.argv, exe: exe, context)
        }
        for e in others {
            flow(from: e, to: task.entity, "execve", context, attributes: ["role": .string("interpreter")])
        }
    }

    func execveExit(_ call: SyscallEvent, _ name: String, _ task: TaskState, _ context: EventContext) {
        let (pathArgument, dirfd): (Int, Int?) = name == "execveat" ? (1, 0) : (0, nil)
        let exe = entity(call, path: pathArgument, dirfd: dirfd, task: task)
        guard call.succeeded else { return failure(from: exe, to: task.entity, name, call.errno, context) }
        // A thread other than the leader that exec'd reports its execve on its own stream,
        // right after the snapshot the recorder took under the leader's tid.
        let snapshotTaken = task.justExecedFromSnapshot || tasks[task.pid]?.justExecedFromSnapshot == true
        if !snapshotTaken {
            beginImage(task, path: absolutePath(call, path: pathArgument, dirfd: dirfd, task: task), argv: nil,
                       exe: exe, context)
            task.imageFromSyscall = true
        }
        execInputs(call, exe: exe, task, context)
    }

    /// A script's exec (`#!`): the kernel maps the interpreter, so the file the exec named,
    /// any symlink on the way and the interpreter chain the recorder resolved (objects
    /// numbered -100 and down) are inputs of the new image too.
    func execInputs(_ call: SyscallEvent, exe: Int, _ task: TaskState, _ context: EventContext) {
        guard case .string(let image)? = entities[task.entity].attributes["exe"], !image.isEmpty else { return }
        if entities[exe].path != image {
            flow(from: exe, to: task.entity, "execve", context, attributes: ["role": .string("script")])
        }
        for o in call.objects where o.argument <= -100 {
            guard let e = entity(for: o, fallbackPath: o.resolved), e != exe, entities[e].path != image else { continue }
            let role = o.mode & FileType.mask == 0o120000 ? "symlink" : "interpreter"
            flow(from: e, to: task.entity, "execve", context, attributes: ["role": .string(role)])
        }
    }

    func setImageAttributes(_ task: TaskState, path: String, argv: [String]?) {
        if !path.isEmpty { entities[task.entity].attributes["exe"] = .string(path) }
        if let argv { entities[task.entity].attributes["argv"] = .strings(argv) }
        relabelProcess(task.entity)
    }

    func beginImage(_ task: TaskState, path: String, argv: [String]?, exe: Int?, _ context: EventContext) {
        // The old image's shared mappings end with it.
        addressSpaceEnded(task.entity, context)
        setImageAttributes(task, path: path, argv: argv ?? [])
        newVersion(of: task.entity, "execve", context)
        if let exe { flow(from: exe, to: task.entity, "execve", context) }
        task.descriptors.closeOnExec()
    }
}
