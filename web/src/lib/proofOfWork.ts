/**
 * The proof of work in front of every CAPTCHA (ALTCHA-style; services/identity/proof_of_work.py):
 * find `number` ≤ `maxnumber` with SHA-256(salt + number) = challenge. Done in a Web Worker so
 * the page stays responsive; where workers are unavailable (tests), on the page itself.
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, utf8ToBytes } from "@noble/hashes/utils.js";

export interface Challenge {
  algorithm: string;
  challenge: string;
  salt: string;
  maxnumber: number;
  signature: string;
}

export interface Proof {
  algorithm: string;
  challenge: string;
  salt: string;
  number: number;
  signature: string;
}

/** The number, by trying them in turn (on average maxnumber / 2 hashes). */
export function findNumber(challenge: Challenge): number {
  for (let number = 0; number <= challenge.maxnumber; number += 1) {
    if (bytesToHex(sha256(utf8ToBytes(challenge.salt + String(number)))) === challenge.challenge) return number;
  }
  throw new Error("unsolvable challenge");
}

function proofOf(challenge: Challenge, number: number): Proof {
  const { algorithm, salt, signature } = challenge;
  return { algorithm, challenge: challenge.challenge, salt, number, signature };
}

/** The proof for `challenge`, worked out off the page's thread when it can be. */
export function solve(challenge: Challenge): Promise<Proof> {
  if (typeof Worker === "undefined") return Promise.resolve(proofOf(challenge, findNumber(challenge)));
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL("./proofOfWork.worker.ts", import.meta.url), { type: "module" });
    worker.onmessage = (event: MessageEvent<{ number?: number; error?: string }>) => {
      worker.terminate();
      if (typeof event.data.number === "number") resolve(proofOf(challenge, event.data.number));
      else reject(new Error(event.data.error ?? "proof of work failed"));
    };
    worker.onerror = (event) => {
      worker.terminate();
      reject(new Error(event.message));
    };
    worker.postMessage(challenge);
  });
}
