/**
 * A bar per day, drawn as SVG elements (no HTML strings, no library): each bar carries its figure in
 * a <title>, and the same figures follow as a table for screen readers and keyboards.
 */
import { h } from 'preact'

const WIDTH = 720
const HEIGHT = 200
const LEFT = 48
const BOTTOM = 24

export function BarChart({ label, points }: { label: string; points: Array<{ day: string; value: number }> }) {
  const max = Math.max(1, ...points.map((point) => point.value))
  const slot = (WIDTH - LEFT) / points.length
  const y = (value: number) => (HEIGHT - BOTTOM) * (1 - value / max)
  return (
    <figure class="chart">
      <svg viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-label={`${label}, last ${points.length} days; the figures follow as a table`}>
        <line class="axis" x1={LEFT} x2={WIDTH} y1={HEIGHT - BOTTOM} y2={HEIGHT - BOTTOM} />
        <text class="tick" x={LEFT - 6} y={10} text-anchor="end">
          {max.toLocaleString()}
        </text>
        <text class="tick" x={LEFT - 6} y={HEIGHT - BOTTOM} text-anchor="end">
          0
        </text>
        {points.map((point, index) => (
          <g key={point.day}>
            <rect
              class="bar"
              x={LEFT + index * slot + slot * 0.15}
              width={slot * 0.7}
              y={y(point.value)}
              height={HEIGHT - BOTTOM - y(point.value)}
            >
              <title>{`${point.day}: ${point.value.toLocaleString()}`}</title>
            </rect>
            {index % 7 === 0 && (
              <text class="tick" x={LEFT + index * slot} y={HEIGHT - 6}>
                {point.day.slice(5)}
              </text>
            )}
          </g>
        ))}
      </svg>
      <details>
        <summary>{label} as a table</summary>
        <table>
          <thead>
            <tr>
              <th scope="col">Day</th>
              <th scope="col">{label}</th>
            </tr>
          </thead>
          <tbody>
            {points
              .filter((point) => point.value > 0)
              .map((point) => (
                <tr key={point.day}>
                  <td>{point.day}</td>
                  <td>{point.value.toLocaleString()}</td>
                </tr>
              ))}
          </tbody>
        </table>
      </details>
    </figure>
  )
}
