// The reference model of the split and packed virtqueues (spec 2.7, 2.8), a
// test oracle: see split_model.ts and packed_model.ts.
export * from "./common.ts";
export * from "./split_model.ts";
export * from "./packed_model.ts";
