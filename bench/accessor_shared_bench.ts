// Generated accessors vs raw DataView over a SharedArrayBuffer; see _accessor_cases.ts.
import { registerAccessorBenches } from "./_accessor_cases.ts";

registerAccessorBenches("SharedArrayBuffer", (size) => new SharedArrayBuffer(size));
