// Generated accessors vs raw DataView over an ArrayBuffer; see _accessor_cases.ts.
import { registerAccessorBenches } from "./_accessor_cases.ts";

registerAccessorBenches("ArrayBuffer", (size) => new ArrayBuffer(size));
