import { describe, expect, it } from "vitest";

import { CHALLENGE } from "../test/helpers";
import { findNumber, solve } from "./proofOfWork";

describe("proof of work", () => {
  it("finds the number whose hash with the salt is the challenge", () => {
    expect(findNumber(CHALLENGE)).toBe(7);
  });

  it("gives up past maxnumber instead of looping on", () => {
    expect(() => findNumber({ ...CHALLENGE, challenge: "0".repeat(64) })).toThrow("unsolvable");
  });

  it("answers with the challenge's own fields and the number", async () => {
    await expect(solve(CHALLENGE)).resolves.toEqual({
      algorithm: "SHA-256",
      challenge: CHALLENGE.challenge,
      salt: CHALLENGE.salt,
      number: 7,
      signature: CHALLENGE.signature,
    });
  });
});
