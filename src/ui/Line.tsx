/** One terminal line of styled segments, cut to the width: never wrapped, never empty (a blank line keeps its row). */
import { Text } from 'ink';
import { fitSegments, segmentsWidth, type Segment } from '../model/text.js';

export function Line({ segments, width }: { readonly segments: readonly Segment[]; readonly width: number }) {
  const fitted = fitSegments(segments, width);
  if (segmentsWidth(fitted) === 0) return <Text> </Text>;
  return (
    <Text wrap="truncate">
      {fitted.map((seg, i) => (
        <Text key={i} color={seg.color} bold={seg.bold} dimColor={seg.dim} inverse={seg.inverse}>
          {seg.text}
        </Text>
      ))}
    </Text>
  );
}
