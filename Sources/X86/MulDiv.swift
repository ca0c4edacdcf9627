// Multiply and divide: mul/imul (one, two and three operands), div/idiv with the divide
// error (#DE -> SIGFPE) on a zero divisor or an unrepresentable quotient (SDM Vol. 2).

extension Machine {
    func execMultiply(_ p: UnsafePointer<Instruction>) -> ExecStatus {
        let size = p.pointee.size
        let bits = UInt64(size) &* 8
        let m = Self.mask(size)
        let signed = p.pointee.op == .imul
        let operandCount = p.pointee.operandCount
        var overflow = false
        var low: UInt64
        if operandCount == 1 {
            // rDX:rAX = rAX * r/m (AX = AL * r/m8 for bytes).
            guard let b = read(p.pointee.o0, size: size) else { return memoryFault(p) }
            let a = gprs[0] & m
            // Products mix every byte of both factors. rAX first (deriving from itself keeps
            // the labels of an address register), then rDX from it: rDX may be the address
            // register.
            let product = gprLocation(0, size: size == 1 ? 2 : size)
            tracker.derive(to: product, from: product, location(p.pointee.o0, size: size))
            loadDependency(product, p.pointee.o0)
            if size != 1 { tracker.derive(to: gprLocation(2, size: size), from: product, .constant) }
            tracker.flags(from: product)
            var high: UInt64
            if size == 8 {
                if signed {
                    let (h, l) = Int64(bitPattern: a).multipliedFullWidth(by: Int64(bitPattern: b))
                    high = UInt64(bitPattern: h)
                    low = l
                    overflow = high != UInt64(bitPattern: Int64(bitPattern: low) >> 63)
                } else {
                    (high, low) = a.multipliedFullWidth(by: b)
                    overflow = high != 0
                }
            } else {
                let product: UInt64
                if signed {
                    product = UInt64(bitPattern: Int64(bitPattern: Self.signExtend(a, size)) &* Int64(bitPattern: Self.signExtend(b, size)))
                    overflow = Self.signExtend(product & m, size) != product
                } else {
                    product = a &* b
                    overflow = product >> bits != 0
                }
                low = product & m
                high = (product >> bits) & m
            }
            if size == 1 {
                writeGPR(0, size: 2, (high << 8) | low)
            } else {
                writeGPR(0, size: size, low)
                writeGPR(2, size: size, high)
            }
        } else {
            // imul r, r/m (, imm): truncated signed product.
            let a: UInt64, b: UInt64
            if operandCount == 2 {
                a = readRegister(p.pointee.o0)
                guard let v = read(p.pointee.o1, size: size) else { return memoryFault(p) }
                b = v
                tracker.derive(to: location(p.pointee.o0, size: size), from: location(p.pointee.o0, size: size), location(p.pointee.o1, size: size))
            } else {
                guard let v = read(p.pointee.o1, size: size) else { return memoryFault(p) }
                a = v
                b = p.pointee.o2.value & m
                loadDerive(to: location(p.pointee.o0, size: size), from: location(p.pointee.o1, size: size), .constant, address: p.pointee.o1)
            }
            if operandCount == 2 { loadDependency(location(p.pointee.o0, size: size), p.pointee.o1) }
            tracker.flags(from: location(p.pointee.o0, size: size))
            let sa = Int64(bitPattern: Self.signExtend(a, size)), sb = Int64(bitPattern: Self.signExtend(b, size))
            if size == 8 {
                let (h, l) = sa.multipliedFullWidth(by: sb)
                low = l
                overflow = h != Int64(bitPattern: l) >> 63
            } else {
                let product = UInt64(bitPattern: sa &* sb)
                low = product & m
                overflow = Self.signExtend(low, size) != product
            }
            writeGPR(p.pointee.o0.reg, size: size, low)
        }
        // CF = OF = "the high half is significant"; SF/ZF/PF/AF undefined (from the low half).
        cpu.pointee.setLazyFlags(.explicitCarryOverflow, bits: UInt8(bits), result: low & m, source1: 0, source2: 0,
                                 aux: overflow ? (RFlags.carry | RFlags.overflow) : 0)
        return .next
    }

    func execDivide(_ p: UnsafePointer<Instruction>) -> ExecStatus {
        let size = p.pointee.size
        let bits = UInt64(size) &* 8
        let m = Self.mask(size)
        guard let divisor = read(p.pointee.o0, size: size) else { return memoryFault(p) }
        if divisor == 0 { return signalFault(p, GuestSignal.sigfpe) }
        // Quotient and remainder both depend on the whole dividend and the divisor.
        let divisorLocation = location(p.pointee.o0, size: size)
        if size == 1 {
            tracker.derive(to: gprLocation(0, size: 2), from: gprLocation(0, size: 2), divisorLocation)
            loadDependency(gprLocation(0, size: 2), p.pointee.o0)
        } else {
            tracker.derive(to: gprLocation(0, size: size), from: gprLocation(0, size: size), gprLocation(2, size: size))
            tracker.combine(into: gprLocation(0, size: size), from: divisorLocation)
            loadDependency(gprLocation(0, size: size), p.pointee.o0)
            tracker.derive(to: gprLocation(2, size: size), from: gprLocation(0, size: size), .constant)
        }
        // Dividend: AX for bytes, else rDX:rAX.
        let dividendLow = size == 1 ? gprs[0] & 0xFFFF : gprs[0] & m
        let dividendHigh = size == 1 ? 0 : gprs[2] & m
        var quotient: UInt64, remainder: UInt64
        if p.pointee.op == .div {
            if size == 8 {
                if dividendHigh >= divisor { return signalFault(p, GuestSignal.sigfpe) }
                (quotient, remainder) = divisor.dividingFullWidth((high: dividendHigh, low: dividendLow))
            } else {
                let dividend = size == 1 ? dividendLow : (dividendHigh << bits) | dividendLow
                quotient = dividend / divisor
                remainder = dividend % divisor
                if quotient > m { return signalFault(p, GuestSignal.sigfpe) }
            }
        } else {
            let sd = Int64(bitPattern: Self.signExtend(divisor, size))
            if size == 8 {
                let high = Int64(bitPattern: dividendHigh)
                // Quotient must fit in 64 bits signed: check via 128-bit magnitude.
                let negativeDividend = high < 0
                var magHigh = dividendHigh, magLow = dividendLow
                if negativeDividend {
                    magLow = ~magLow &+ 1
                    magHigh = ~magHigh &+ (magLow == 0 ? 1 : 0)
                }
                let magDivisor = sd < 0 ? UInt64(bitPattern: 0 &- sd) : UInt64(bitPattern: sd)
                if magHigh >= magDivisor { return signalFault(p, GuestSignal.sigfpe) }
                let (q, r) = magDivisor.dividingFullWidth((high: magHigh, low: magLow))
                let negativeQuotient = negativeDividend != (sd < 0)
                if negativeQuotient ? q > (UInt64(1) << 63) : q > UInt64(Int64.max) { return signalFault(p, GuestSignal.sigfpe) }
                quotient = negativeQuotient ? 0 &- q : q
                remainder = negativeDividend ? 0 &- r : r
            } else {
                let dividendBits = size == 1 ? UInt8(2) : size &* 2
                let dividend = Int64(bitPattern: Self.signExtend(size == 1 ? dividendLow : (dividendHigh << bits) | dividendLow, dividendBits))
                let (q, quotientOverflow) = dividend.dividedReportingOverflow(by: sd)
                if quotientOverflow { return signalFault(p, GuestSignal.sigfpe) }
                let r = dividend.remainderReportingOverflow(dividingBy: sd).partialValue
                let limit = Int64(1) << (bits - 1)
                if q >= limit || q < -limit { return signalFault(p, GuestSignal.sigfpe) }
                quotient = UInt64(bitPattern: q) & m
                remainder = UInt64(bitPattern: r) & m
            }
        }
        if size == 1 {
            writeGPR(0, size: 2, ((remainder & 0xFF) << 8) | (quotient & 0xFF))
        } else {
            writeGPR(0, size: size, quotient & m)
            writeGPR(2, size: size, remainder & m)
        }
        // All arithmetic flags are undefined after DIV/IDIV; leave them as they were.
        return .next
    }
}
