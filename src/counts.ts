/**
 * Totals of per-folder counts: `zero` names the counts (every one 0, in the order the reports list
 * them); each is summed over the folders. Sync's FolderCounts and verify's VerifyCounts use it.
 */
export function sumCounts<C extends {[K in keyof C]: number}>(zero: Readonly<C>, folders: ReadonlyArray<NoInfer<C>>): C {
  const totals = {...zero} as C
  for (const key of Object.keys(totals) as Array<keyof C>) {
    totals[key] = folders.reduce((total: number, folder) => total + folder[key], 0) as C[keyof C]
  }
  return totals
}
